"""Device enrollment: a kiosk trades a one-time code from the exchange's operations team for
its own device secret (`POST /v1/devices`, the one unsigned call that changes anything).

The call goes over the same verified TLS as every other (`sync.client`); the secret comes back
once and is returned to the caller, who keeps it in the vault (`kiosk.services.device`) and
never prints it. `python -m kiosk device enroll --code CODE` is the way in; the launcher
reaches the network layer only through this module.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kiosk.bootstrap import Core
from kiosk.errors import KioskError
from kiosk.services import device
from sync.client import Answer, ExchangeClient, ExchangeUnreachable
from sync.policy import problem_code
from sync.signing import DeviceCredential

log = logging.getLogger(__name__)


class EnrollmentError(KioskError):
    """The exchange did not enroll the kiosk. `code` is the exchange's refusal
    (enrollment_refused, device_already_enrolled, invalid_request, http_<status>) or
    exchange_unreachable (with `reason`, e.g. tls_error); `answer_unreadable` for a 201 that
    does not carry a secret. The command line prints it."""

    code = "enrollment_failed"


def enroll_device(url: str, kiosk_id: str, code: str, ca_bundle: Path | None,
                  *, timeout: tuple[float, float] = (3.05, 10.0)) -> DeviceCredential:
    """Enroll `kiosk_id` at the exchange at `url` with the one-time `code`; the new
    credential. Blocks for at most the timeout. Raises EnrollmentError."""
    client = ExchangeClient(url, device_token="", kiosk_id=kiosk_id, timeout=timeout,
                            ca_bundle=ca_bundle)
    try:
        answer = client.enroll(kiosk_id=kiosk_id, enrollment_code=code)
    except ExchangeUnreachable as exc:
        raise EnrollmentError(code="exchange_unreachable", reason=exc.reason) from exc
    finally:
        client.close()
    return _credential(answer, kiosk_id)


def _credential(answer: Answer, kiosk_id: str) -> DeviceCredential:
    if answer.status != 201:
        refused = problem_code(answer.body) or f"http_{answer.status}"
        raise EnrollmentError(code=refused, status=answer.status)
    try:
        data = json.loads(answer.body)
        secret = data["device_secret"]
        enrolled_as = data["kiosk_id"]
    except (ValueError, TypeError, KeyError):
        raise EnrollmentError(code="answer_unreadable") from None
    if not isinstance(secret, str) or not secret.isascii() or enrolled_as != kiosk_id:
        raise EnrollmentError(code="answer_unreadable")
    return DeviceCredential(kiosk_id=kiosk_id, secret=secret)


def enroll(core: Core, code: str, *, actor: str) -> device.DeviceStatus:
    """Enroll this kiosk (the settings' exchange and kiosk id) and keep the secret in the
    vault with a `device.enrolled` audit entry. Refuses, before any network call, when the
    kiosk is enrolled already (EnrollmentError `device_already_enrolled`)."""
    settings = core.settings
    current = device.device_status(vault=core.vault)
    if current.enrolled:
        raise EnrollmentError(code="device_already_enrolled", kiosk_id=current.kiosk_id)
    credential = enroll_device(settings.exchange_url, settings.kiosk_id, code,
                               settings.ca_bundle_path,
                               timeout=(3.05, settings.http_timeout_seconds))
    log.info("kiosk %s enrolled at the exchange", credential.kiosk_id)
    return device.save_credential(kiosk_id=credential.kiosk_id, secret=credential.secret,
                                  exchange_url=settings.exchange_url, vault=core.vault,
                                  clock=core.clock, actor=actor)
