"""Shared fixtures: a real encrypted vault in a temporary folder, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from kiosk.bootstrap import Core, build_core  # noqa: E402
from kiosk.settings import Settings  # noqa: E402
from kiosk.terminal.sandbox import SandboxTerminal  # noqa: E402
from tests.support import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "kiosk-data",
        exchange_url="http://127.0.0.1:9",
        device_token="test-device-token-NOT-A-SECRET",
        kiosk_id="K042",
        site_name="Test Site",
        key_store="file",  # never the developer's own keyring
    )


@pytest.fixture
def core(settings: Settings, clock: FakeClock) -> Iterator[Core]:
    built = build_core(settings, clock=clock, terminal=SandboxTerminal())
    yield built
    built.close()
