"""A benchmarks-only workaround for a reference-counting bug of PySide6 6.12.0 on Python 3.11,
and the count of how close each child came to the abort it causes.

PySide6 6.12.0 on Python 3.11 loses references to None, True and False: every call of a Qt
method that returns nothing (setText, processEvents, ...) and every Python slot run from a C++
signal or timer drops one reference to None; every Python-side `Signal.emit()` drops one to
True. The process aborts ("none_dealloc" / "bool_dealloc") once a count reaches zero, after a
few tens of thousands of such calls. PySide6 6.11.3 does not do this, and Python 3.12 made these
objects immortal. `pin` keeps a child alive for the length of a benchmark; `lost` says how many
references were lost, i.e. how close a kiosk without the workaround came to aborting.
Imports nothing from the kiosk, so the bare-window child stays bare.
"""

from __future__ import annotations

import ctypes
import os
import sys

_SINGLETONS = {"None": None, "True": True, "False": False}
_at_pin: dict[str, int] = {}


def pin(count: int = 100_000_000) -> None:
    """Add `count` to the reference counts of None, True and False. Written straight into
    each object's reference count (its first field), rather than held in lists, so the pin
    costs no memory and no garbage-collector time, which the benchmarks measure."""
    for value in _SINGLETONS.values():
        ctypes.c_ssize_t.from_address(id(value)).value += count
    _at_pin.update({name: sys.getrefcount(value) for name, value in _SINGLETONS.items()})
    _at_pin["pinned"] = count


def unpinned_counts() -> dict[str, int]:
    """Each reference count now, without the pinned references: what a process without the
    workaround would have left before aborting."""
    pinned = _at_pin.get("pinned", 0)
    return {name: sys.getrefcount(value) - pinned for name, value in _SINGLETONS.items()}


def lost() -> dict[str, int]:
    """References lost since `pin` (negative would mean gained)."""
    return {name: _at_pin[name] - sys.getrefcount(value)
            for name, value in _SINGLETONS.items()}


def finish(result: dict[str, object]) -> None:
    """Report and leave at once, without the interpreter's shutdown (which has nothing left
    to do for the benchmark, and would meet the inflated counts)."""
    from bench.common import report_result

    report_result(result)
    sys.stdout.flush()
    os._exit(0)
