"""Typed settings for one kiosk, read from `settings.json` in its data folder.

Demo mode uses its own data folder, so the demo vault can never be the real one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from kiosk import APP_NAME
from kiosk.domain.limits import OfflineLimits
from kiosk.domain.money import Money
from kiosk.errors import KioskError

# Clearly a demo value: the sandbox exchange accepts it, a real exchange never would.
DEMO_DEVICE_TOKEN = "demo-device-token-NOT-A-SECRET"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    exchange_url: str = ""
    device_token: str = ""
    kiosk_id: str = "K001"
    site_name: str = "Community Enrollment Center"
    timezone: str = "America/New_York"
    demo: bool = False
    language: str = "en"
    sync_poll_seconds: float = 15.0
    http_timeout_seconds: float = 10.0
    # Offline limits (see kiosk/domain/limits.py for where the defaults come from).
    offline_max_payment_cents: int = 500_00
    offline_max_total_cents: int = 5_000_00
    offline_max_count: int = 50
    offline_max_age_hours: int = 7 * 24
    # Keys (kiosk/store/keys.py): where the device key file goes when there is no usable OS
    # keyring ("" = a folder beside the data folder, never inside it), and "auto" (the OS
    # keyring when usable, else that file) or "file" (always the file).
    key_dir: str = ""
    key_store: str = "auto"
    # Backups (kiosk/store/backup.py): folder ("" = data_dir/backups), how often the
    # scheduled backup runs, and how many backups are kept.
    backup_dir: str = ""
    backup_interval_hours: float = 24.0
    backup_keep: int = 14
    # Privacy on a shared machine (ui/idle.py) and kiosk mode.
    member_idle_seconds: float = 90.0
    member_warning_seconds: float = 30.0
    staff_idle_minutes: float = 15.0
    kiosk_mode: bool = False
    # The card terminal: where its semi-integrated API listens ("" = the in-process sandbox).
    terminal_url: str = ""
    terminal_poi_id: str = ""

    @property
    def offline_limits(self) -> OfflineLimits:
        return OfflineLimits(
            per_payment=Money(cents=self.offline_max_payment_cents),
            total_queued=Money(cents=self.offline_max_total_cents),
            queued_count=self.offline_max_count,
            max_age=dt.timedelta(hours=self.offline_max_age_hours),
        )

    @property
    def vault_path(self) -> Path:
        return self.data_dir / "vault.db"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "vault.key"


class SettingsError(KioskError):
    code = "settings_invalid"


def default_data_dir(*, demo: bool) -> Path:
    """The real data folder, or the separate demo one."""
    base = platformdirs.user_data_path(APP_NAME, appauthor=False)
    return base / "demo" if demo else base / "kiosk"


def load_settings(data_dir: Path, *, demo: bool, **overrides: Any) -> Settings:
    """Settings from `data_dir/settings.json` (when it exists) plus explicit overrides."""
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = data_dir / "settings.json"
    if path.exists():
        try:
            values = json.loads(path.read_text("utf-8"))
        except ValueError as exc:
            raise SettingsError(path=str(path)) from exc
        unknown = set(values) - known
        if unknown:
            raise SettingsError(path=str(path), unknown=sorted(unknown))
    settings = Settings(data_dir=data_dir, demo=demo)
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.pop("data_dir", None)
    if demo and not values.get("device_token"):
        values["device_token"] = DEMO_DEVICE_TOKEN
    return replace(settings, **values)
