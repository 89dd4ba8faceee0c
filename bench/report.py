"""One figure of a benchmark run and the table and JSON file they are reported in."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None  # the comparison measured in the same run, when there is one
    target: str  # in words, e.g. "< 30 s"; "(compare)" for a figure printed for context
    met: bool | None  # None for a figure printed for context, which has no target
    note: str = ""  # what exactly was measured, and what the baseline is

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), linear between the two nearest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _number(value: float | None, width: int) -> str:
    if value is None:
        return f"{'':>{width}}"
    if abs(value) >= 1000:
        return f"{value:{width}.0f}"
    return f"{value:{width}.3f}" if abs(value) < 10 else f"{value:{width}.1f}"


def print_table(figures: list[Figure]) -> None:
    print(f"{'figure':62} {'value':>10} {'unit':10} {'baseline':>10} {'ratio':>7}  "
          f"{'target':17} met")
    for f in figures:
        ratio = f"{f.ratio:7.2f}" if f.ratio is not None else f"{'':7}"
        met = "—" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.name[:62]:62} {_number(f.value, 10)} {f.unit[:10]:10} "
              f"{_number(f.baseline, 10)} {ratio}  {f.target[:17]:17} {met}")


def print_notes(figures: list[Figure]) -> None:
    for f in figures:
        if f.note:
            print(f"- {f.name}: {f.note}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name")), "unknown")
    except OSError:
        return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        return None
    return round(kib / 1024 / 1024, 1)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {"machine": platform.platform(), "cpus": os.cpu_count(), "cpu": _cpu_model(),
            "memory_gib": _memory_gib(), "python": platform.python_version(),
            "versions": {name: _version(name) for name in (
                "PySide6-Essentials", "PySide6-Addons", "sqlcipher3", "qtawesome")}}


def write_json(figures: list[Figure], path: Path, **extra: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**machine(), **extra,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
