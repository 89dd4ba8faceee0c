"""`python -m bench`: run every benchmark, print the table, write build/bench.json."""

from __future__ import annotations

import sys
from pathlib import Path

from bench import drain
from bench.report import Figure, print_table, write_json


def main() -> int:
    figures: list[Figure] = []
    print("drain through the fault proxy:")
    figures += drain.run()
    print()
    print_table(figures)
    out = Path("build") / "bench.json"
    write_json(figures, out)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
