"""The launcher: `python -m kiosk --demo --smoke` starts the sandbox exchange, the demo vault
and the window, prints `ready` and exits 0, without a display; `totp --demo` prints a code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_kiosk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_demo_smoke_prints_ready_and_the_demo_credentials(tmp_path: Path) -> None:
    result = run_kiosk("--demo", "--smoke", data_dir=tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "ready"
    assert any("demo.navigator" in line and "demo-password-not-secret" in line
               for line in lines)
    assert (tmp_path / "demo" / "vault.db").exists()
    assert (tmp_path / "demo" / "sandbox-exchange.db").exists()


def test_demo_totp_prints_a_six_digit_code(tmp_path: Path) -> None:
    result = run_kiosk("--demo", "totp", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"demo\.navigator: \d{6} \(changes in \d+ s\)", result.stdout)


def test_a_vault_without_its_key_stops_with_a_clear_error(tmp_path: Path) -> None:
    first = run_kiosk("--smoke", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "vault.keys.json").unlink()
    second = run_kiosk("--smoke", data_dir=tmp_path)
    assert second.returncode == 1
    assert "the file that protects its key is missing" in second.stderr  # what and what next
    assert "Call a supervisor" in second.stderr and "[vault_key_missing]" in second.stderr
