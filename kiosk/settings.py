"""Typed settings for one kiosk, read from `settings.json` in its data folder.

Demo mode uses its own data folder, so the demo vault can never be the real one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from kiosk import APP_NAME
from kiosk.domain.limits import OfflineLimits
from kiosk.domain.money import Money
from kiosk.errors import KioskError

# Clearly a demo value: the sandbox exchange accepts it, a real exchange never would.
DEMO_DEVICE_TOKEN = "demo-device-token-NOT-A-SECRET"
LOOPBACK_NAMES = ("localhost",)
RECEIPT_KEY_BYTES = 32  # a raw Ed25519 public key


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    exchange_url: str = ""
    # Until the kiosk is enrolled (`python -m kiosk device enroll`), the secret its requests
    # are signed with; the sandbox accepts the demo value. Enrolled, the vault's secret wins.
    device_token: str = ""
    # The exchange's certificate authority bundle (PEM); "" = the public authorities of
    # certifi, as requests ships them. Never taken from the environment.
    exchange_ca_bundle: str = ""
    # The exchange's receipt-signing public key: raw Ed25519, base64. "" = receipts for the
    # audit trail's head are kept unverified (in demo mode the key is read from the sandbox).
    exchange_receipt_key: str = ""
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

    @property
    def ca_bundle_path(self) -> Path | None:
        """The exchange's CA bundle (a relative path is in the data folder); None = certifi."""
        if not self.exchange_ca_bundle:
            return None
        return self.data_dir / self.exchange_ca_bundle  # an absolute path stays as it is


class SettingsError(KioskError):
    code = "settings_invalid"


def exchange_url_problem(url: str) -> str | None:
    """Why the kiosk must not talk to the exchange at `url`, as a short code; None when it may.

    Anything but https is refused unless the host is this machine (127.0.0.1, ::1,
    localhost): a payment or a device signature must never cross a network in the clear.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme != "http" or not parts.hostname:
        return "exchange_url_invalid"
    return None if is_loopback(parts.hostname) else "plain_http_not_loopback"


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (a loopback address, or localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def receipt_key_problem(value: str) -> str | None:
    """Why `value` is not a usable receipt key (base64 of 32 raw bytes); None when it is."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "receipt_key_not_base64"
    return None if len(raw) == RECEIPT_KEY_BYTES else "receipt_key_wrong_length"


def _problems(settings: Settings) -> dict[str, str]:
    """Each setting that cannot be used, with why: {field: problem code}."""
    found: dict[str, str] = {}
    if settings.exchange_url:
        url_problem = exchange_url_problem(settings.exchange_url)
        if url_problem:
            found["exchange_url"] = url_problem
    bundle = settings.ca_bundle_path
    if bundle is not None and not bundle.is_file():
        found["exchange_ca_bundle"] = "ca_bundle_missing"
    if settings.exchange_receipt_key:
        key_problem = receipt_key_problem(settings.exchange_receipt_key)
        if key_problem:
            found["exchange_receipt_key"] = key_problem
    return found


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
    loaded = replace(settings, **values)
    problems = _problems(loaded)
    if problems:
        field, problem = sorted(problems.items())[0]
        raise SettingsError(path=str(path), field=field, problem=problem, problems=problems)
    return loaded
