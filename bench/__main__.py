"""`python -m bench [NAME ...] [--quick]`: run the benchmarks of issue 9, print the table and
write build/bench.json.

Every figure is measured beside its baseline in the same run (see each module's docstring for
exactly what is timed). Names choose some benchmarks; `--quick` runs smaller sizes for
development (its figures do not answer the issue's targets). A partial or quick run writes
build/bench-partial.json, so the record of the last full run stays. Benchmarks measure and
print: the exit status says only whether every benchmark ran, not whether targets were met.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    drain,
    memory,
    memsec,
    payment,
    payment_1m,
    pull,
    search,
    startup,
    ui_drain,
    ui_typing,
)
from bench.common import BenchRun
from bench.report import Figure, machine, print_notes, print_table, write_json

# In this order, so the 100,000-member cache is built once and shared.
BENCHMARKS: dict[str, tuple[str, Callable[[BenchRun], list[Figure]]]] = {
    "startup": ("cold start to the first interactive screen", startup.run),
    "payment": ("taking a payment", payment.run),
    "search": ("member search over 100,000 cached members", search.run),
    "typing": ("typing in the search box", ui_typing.run),
    "payment-1m": ("taking a payment with 1,000,000 payments in the vault", payment_1m.run),
    "pull": ("first and later pulls of 100,000 members", pull.run),
    "drain": ("drain 10,000 payments through the fault proxy", drain.run),
    "ui-drain": ("the UI thread during a 10,000-payment drain", ui_drain.run),
    "memory": ("peak memory after visiting every screen", memory.run_peak),
    "visits": ("1,000 visits in a row", memory.run_growth),
    "memsec": ("what SQLCipher's memory wiping costs (for comparison)", memsec.run),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks of issue 9, print the table, write build/bench.json.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for development")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    return parser


def _commit() -> str:
    """The checked-out commit, with "+ local changes" when the working tree differs."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The benchmarks' kiosks keep their device key in a file on purpose; the warning each
    # one logs about it is noise here.
    logging.getLogger("kiosk.store.keys").setLevel(logging.ERROR)
    names = [n for n in BENCHMARKS if n in args.names] if args.names else list(BENCHMARKS)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    partial = args.quick or names != list(BENCHMARKS)
    out = args.out or Path("build") / ("bench-partial.json" if partial else "bench.json")
    figures: list[Figure] = []
    failed: list[str] = []
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    info = machine()
    print(f"{info['cpus']} CPUs ({info['cpu']}), {info['memory_gib']} GiB, Python "
          f"{info['python']}, {info['versions']}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        run = BenchRun(quick=args.quick, tmp=Path(tmp))
        for name in names:
            title, bench = BENCHMARKS[name]
            print(f"{name}: {title}{' (quick)' if args.quick else ''}", flush=True)
            start = time.perf_counter()
            try:
                figures += bench(run)
            except Exception:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                failed.append(name)
            seconds[name] = round(time.perf_counter() - start, 1)
            print(f"  ({seconds[name]:.0f} s)\n", flush=True)
    print_table(figures)
    print()
    print_notes(figures)
    write_json(figures, out, commit=_commit(), quick=args.quick, benchmarks=names, failed=failed,
               seconds=seconds, total_seconds=round(time.perf_counter() - started, 1),
               date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    print(f"\nwritten to {out} (total {time.perf_counter() - started:.0f} s)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
