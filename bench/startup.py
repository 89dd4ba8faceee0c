"""Cold start to the first interactive screen, beside a bare PySide6 window in the same run.

`python -m kiosk --smoke --data-dir <folder>` (offscreen, not the demo: no sandbox exchange)
and `bench/bare_window.py` are started alternately, each timed from `Popen` to the `ready`
line on its standard output (the window has been shown and the event queue processed once),
and separately to the process's exit. The headline figure starts a kiosk that has started
once before (its vault, keys and migrations exist: a kiosk switched on in the morning); the
first start in a new folder (making the keys, running every migration), a kiosk holding
100,000 cached members, and starts without a bytecode cache are printed beside it. The
children run with a bytecode cache in a scratch folder (warmed by the first, untimed start),
as an installed kiosk would have; this environment may set PYTHONDONTWRITEBYTECODE, so the
figure without a cache is printed too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, BenchRun, child_env, copy_kiosk
from bench.report import Figure, median

TARGET_RATIO = 3.0
BARE = ROOT / "bench" / "bare_window.py"


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start to the `ready` line, and to the process's exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    ready = None
    for line in proc.stdout:
        if line.strip() == "ready" and ready is None:
            ready = time.perf_counter() - start
    proc.wait()
    ended = time.perf_counter() - start
    if ready is None or proc.returncode != 0:
        raise RuntimeError(f"{command} did not print ready (exit {proc.returncode})")
    return ready, ended


def _pairs(run: BenchRun, env: dict[str, str], count: int, tag: str, *,
           fresh: bool) -> tuple[list[float], list[float], list[float], list[float]]:
    """`count` alternating starts of the kiosk and the bare window, after one untimed pair
    (which warms the caches and, unless `fresh`, makes the kiosk that the others start)."""
    kiosk_ready: list[float] = []
    kiosk_exit: list[float] = []
    bare_ready: list[float] = []
    bare_exit: list[float] = []
    for index in range(count + 1):
        data_dir = run.tmp / f"startup-{tag}-{index if fresh else 0}" / "kiosk"
        kiosk = _timed([sys.executable, "-m", "kiosk", "--smoke", "--data-dir", str(data_dir)],
                       env)
        bare = _timed([sys.executable, str(BARE)], env)
        if index:
            kiosk_ready.append(kiosk[0])
            kiosk_exit.append(kiosk[1])
            bare_ready.append(bare[0])
            bare_exit.append(bare[1])
    return kiosk_ready, kiosk_exit, bare_ready, bare_exit


def cached_env(run: BenchRun) -> dict[str, str]:
    """The children's environment with a bytecode cache in the run's scratch folder."""
    env = child_env(PYTHONPYCACHEPREFIX=str(run.tmp / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def smoke_start(data_dir: Path, env: dict[str, str]) -> float:
    """Seconds from start to `ready` of `python -m kiosk --smoke` on an existing kiosk."""
    return _timed([sys.executable, "-m", "kiosk", "--smoke", "--data-dir", str(data_dir)],
                  env)[0]


def _existing_vault(run: BenchRun, env: dict[str, str], count: int) -> tuple[float, float]:
    """Median start on a copy of the 100,000-member kiosk, and of the bare window, alternated."""
    folder = copy_kiosk(run.member_vault(20_000 if run.quick else 100_000),
                        run.tmp / "startup-members" / "kiosk")
    smoke_start(folder, env)  # warm the OS file cache, as a restarted kiosk would have it
    kiosk, bare = [], []
    for _ in range(count):
        kiosk.append(smoke_start(folder, env))
        bare.append(_timed([sys.executable, str(BARE)], env)[0])
    return median(kiosk), median(bare)


def run(run: BenchRun) -> list[Figure]:
    count = 3 if run.quick else 9
    cached = cached_env(run)
    k_ready, k_exit, b_ready, b_exit = _pairs(run, cached, count, "existing", fresh=False)
    f_ready, _f_exit, fb_ready, _fb_exit = _pairs(run, cached, max(3, count // 3), "fresh",
                                                  fresh=True)
    uncached = child_env(PYTHONDONTWRITEBYTECODE="1")
    uncached.pop("PYTHONPYCACHEPREFIX", None)
    u_ready, _u_exit, ub_ready, _ub_exit = _pairs(run, uncached, max(3, count // 3), "nocache",
                                                  fresh=False)
    members_ready, members_bare = _existing_vault(run, cached, max(3, count // 3))
    print(f"  kiosk to ready: {', '.join(f'{t:.3f}' for t in k_ready)} s")
    print(f"  bare  to ready: {', '.join(f'{t:.3f}' for t in b_ready)} s")
    ratio = median(k_ready) / median(b_ready)
    how = f"median of {count} starts alternated with the bare window, offscreen"
    return [
        Figure(name="cold start to first screen (to `ready`)", value=median(k_ready), unit="s",
               baseline=median(b_ready), target=f"<= {TARGET_RATIO:g}x bare window",
               met=ratio <= TARGET_RATIO,
               note=f"{how}; a kiosk that has started once before; Popen to the `ready` line; "
                    "baseline: bare QApplication + QLabel to its `ready` line; bytecode cached"),
        Figure(name="cold start to first screen (to process exit)", value=median(k_exit),
               unit="s", baseline=median(b_exit), target="(compare)", met=None,
               note=f"{how}; Popen to exit, including the kiosk's shutdown"),
        Figure(name="first start in a new folder (to `ready`)", value=median(f_ready),
               unit="s", baseline=median(fb_ready), target="(compare)", met=None,
               note="each start in a folder of its own: makes the data key and its device "
                    "wrapping, runs every migration"),
        Figure(name="start to `ready`, existing 100k-member kiosk", value=members_ready,
               unit="s", baseline=members_bare, target="(compare)", met=None,
               note="a copy of the benchmarks' 100,000-member kiosk, started again: opening "
                    "checks every page's HMAC (cipher_integrity_check)"),
        Figure(name="cold start to `ready`, no bytecode cache", value=median(u_ready),
               unit="s", baseline=median(ub_ready), target="(compare)", met=None,
               note="PYTHONDONTWRITEBYTECODE=1: every module compiled at each start"),
    ]
