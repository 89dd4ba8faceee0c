"""One figure of a benchmark run and the table and JSON file they are reported in."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None  # the comparison measured in the same run, when there is one
    target: str  # in words, e.g. "< 30 s"
    met: bool

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def print_table(figures: list[Figure]) -> None:
    print(f"{'figure':58} {'value':>12} {'baseline':>12} {'ratio':>7}  target        met")
    for f in figures:
        baseline = f"{f.baseline:12.3f}" if f.baseline is not None else f"{'':12}"
        ratio = f"{f.ratio:7.2f}" if f.ratio is not None else f"{'':7}"
        print(f"{f.name:58} {f.value:12.3f} {baseline} {ratio}  {f.target:13} "
              f"{'yes' if f.met else 'NO'}")


def write_json(figures: list[Figure], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": platform.platform(), "python": platform.python_version(),
            "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
