"""Command line of the kiosk: `python -m kiosk [--demo] [--smoke]`, and the maintenance
commands `staff add|unlock|remove`, `keys status|set-recovery|rotate-wrapping|rekey|recover`,
`backup now|list|restore FILE`, `audit verify`, `device enroll --code CODE|status`, and `totp`.

This is the launcher, not part of the core: it is the one module in `kiosk/` that reaches
the screens (`ui.app`) and the network (`sync.enrollment`, for `device enroll`), and it imports
them only when they are wanted. Secrets are read with `getpass` from a terminal, or one per
line from standard input when it is not one; the device secret is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk import logs
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.bootstrap import Core
    from kiosk.domain.staff import Role, StaffSession
    from kiosk.services.audit import Acknowledgement
    from kiosk.settings import Settings
    from kiosk.store.keys import KeyPlaces, KeyStatus

ROLES = ["navigator", "supervisor", "administrator"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiosk",
                                     description="Health Connector Kiosk")
    parser.add_argument("--demo", action="store_true",
                        help="run with the sandbox exchange, a sandbox terminal and demo data")
    parser.add_argument("--kiosk", action="store_true",
                        help="kiosk mode: full screen, no frame, closing needs a supervisor")
    parser.add_argument("--smoke", action="store_true",
                        help="start, show the first screen, print 'ready' and exit")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the kiosk's data folder (default: the per-user data folder)")
    sub = parser.add_subparsers(dest="command")
    _staff_parser(sub)
    _keys_parser(sub)
    _backup_parser(sub)
    _device_parser(sub)
    audit = sub.add_parser("audit", help="check the audit trail")
    audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="find edited, deleted or reordered entries, and a trail that no longer "
        "holds what the exchange acknowledged (exit 1 if any)")
    sub.add_parser("totp", help="print the demo navigator's current code (demo only)")
    return parser


def _staff_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="manage staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="enrol a staff member (approved by a step-up, "
                               "except the first account)")
    add.add_argument("--username", required=True)
    add.add_argument("--display-name", required=True)
    add.add_argument("--role", default="navigator", choices=ROLES)
    for name, what in (("unlock", "clear a locked account (a supervisor approves)"),
                       ("remove", "deactivate an account (an administrator approves)")):
        staff_sub.add_parser(name, help=what).add_argument("username")


def _keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="the vault key's protection")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("status", help="where the device key lives; whether recovery is set")
    keys_sub.add_parser("set-recovery", help="set or change the recovery passphrase")
    keys_sub.add_parser("rotate-wrapping", help="wrap the vault key under a new device key")
    keys_sub.add_parser("rekey", help="re-encrypt the whole vault under a new key")
    keys_sub.add_parser("recover", help="unwrap with the recovery passphrase and wrap under "
                        "a new device key")


def _backup_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="encrypted backups of the vault")
    backup_sub = backup.add_subparsers(dest="backup_command", required=True)
    backup_sub.add_parser("now", help="make a backup now")
    backup_sub.add_parser("list", help="list the backups")
    restore = backup_sub.add_parser("restore", help="replace the vault with a backup "
                                    "(the kiosk must not be running)")
    restore.add_argument("file", type=Path)


def _device_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    device = sub.add_parser("device", help="this kiosk's device credential at the exchange")
    device_sub = device.add_subparsers(dest="device_command", required=True)
    enroll = device_sub.add_parser("enroll", help="enroll with a one-time code from the "
                                   "exchange; the secret it gives is kept in the vault")
    enroll.add_argument("--code", required=True, help="the one-time enrollment code")
    device_sub.add_parser("status", help="whether and as what this kiosk is enrolled")


def _data_dir(args: argparse.Namespace) -> Path:
    from kiosk.settings import default_data_dir

    return Path(args.data_dir) if args.data_dir else default_data_dir(demo=args.demo)


def _settings(args: argparse.Namespace) -> Settings:
    from kiosk.settings import load_settings

    return load_settings(_data_dir(args), demo=args.demo)


def _secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


def _line(prompt: str) -> str:
    return input(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _with_core(args: argparse.Namespace, action: Callable[[Core], int]) -> int:
    from kiosk.bootstrap import build_core

    core = build_core(_settings(args))
    try:
        return action(core)
    finally:
        core.close()


def _approval(core: Core, purpose: str, min_role: Role) -> StaffSession:
    from kiosk.services.auth import SignIn, step_up

    print(f"Approval needed ({min_role} or above).", file=sys.stderr)
    cmd = SignIn(username=_line("Approver's username: "), password=_secret("Approver's password: "),
                 code=_secret("Approver's current 6-digit code: "))
    return step_up(cmd, vault=core.vault, clock=core.clock, purpose=purpose, min_role=min_role)


# -- staff --------------------------------------------------------------------------------------

def _staff(args: argparse.Namespace) -> int:
    if args.staff_command == "add":
        return _staff_add(args)
    return _with_core(args, lambda core: _staff_change(core, args))


def _staff_add(args: argparse.Namespace) -> int:
    import segno

    from kiosk.domain.staff import Role
    from kiosk.services.auth import STAFF_ADD, EnrollStaff, add_staff, staff_count

    password = _secret("New staff member's password (at least 12 characters): ")
    if password != _secret("Password again: "):
        print("The two passwords are not the same. Nothing was saved.", file=sys.stderr)
        return 2

    def add(core: Core) -> int:
        by = None
        if staff_count(vault=core.vault) > 0:
            by = _approval(core, STAFF_ADD, Role.SUPERVISOR)
        enrolled = add_staff(EnrollStaff(username=args.username, display_name=args.display_name,
                                         password=password, role=Role(args.role)),
                             by=by, vault=core.vault, clock=core.clock)
        print(f"Enrolled {enrolled.username}. Scan this code with an authenticator app:")
        segno.make(enrolled.provisioning_uri, error="m").terminal(compact=True)
        print(f"Or type this key into the app: {enrolled.totp_secret}")
        return 0

    return _with_core(args, add)


def _staff_change(core: Core, args: argparse.Namespace) -> int:
    from kiosk.domain.staff import Role
    from kiosk.services.auth import STAFF_REMOVE, STAFF_UNLOCK, deactivate_staff, unlock_staff

    if args.staff_command == "unlock":
        by = _approval(core, STAFF_UNLOCK, Role.SUPERVISOR)
        changed = unlock_staff(args.username, by=by, vault=core.vault, clock=core.clock)
    else:
        by = _approval(core, STAFF_REMOVE, Role.ADMINISTRATOR)
        changed = deactivate_staff(args.username, by=by, vault=core.vault, clock=core.clock)
    print(f"{changed.username}: {changed.action}.")
    return 0


# -- keys ---------------------------------------------------------------------------------------

def _new_passphrase() -> str | None:
    passphrase = _secret("New recovery passphrase (at least 16 characters): ")
    if passphrase != _secret("The passphrase again: "):
        print("The two passphrases are not the same. Nothing was changed.", file=sys.stderr)
        return None
    return passphrase


def _keys(args: argparse.Namespace) -> int:
    from kiosk.store import keys

    settings = _settings(args)
    where = keys.places(settings)
    command = args.keys_command
    if command == "status":
        status = keys.key_status(where)
    elif command == "set-recovery":
        changed = _set_recovery(where, settings.demo)
        if changed is None:
            return 2
        status = changed
    elif command == "rotate-wrapping":
        status = keys.rotate_wrapping(where)
    elif command == "rekey":
        passphrase = (_secret("Recovery passphrase: ")
                      if keys.key_status(where).recovery_set else None)
        _with_core(args, lambda core: 0)  # opening seals an upgraded vault's audit trail
        status = keys.rekey(where, passphrase)
    else:
        status = keys.recover(where, _secret("Recovery passphrase: "))
    _print_status(status)
    if command != "status":
        _with_core(args, lambda core: _audit_event(core, f"keys.{command}"))
    return 0


def _set_recovery(where: KeyPlaces, demo: bool) -> KeyStatus | None:
    """Set or change the passphrase; on a kiosk still on a plaintext key (or with no key yet)
    this is also how the key gets wrapped without the window's first-run screen."""
    from kiosk.store import keys

    if keys.setup_needed(where) is not keys.KeySetup.READY:
        new = _new_passphrase()
        return None if new is None else keys.unlock(where, demo=demo,
                                                    recovery_passphrase=new).status
    status = keys.key_status(where)
    needs_current = status.recovery_set and not status.demo_recovery
    current = _secret("Current recovery passphrase: ") if needs_current else None
    new = _new_passphrase()
    return None if new is None else keys.set_recovery_passphrase(where, new, current=current)


def _print_status(status: KeyStatus) -> None:
    print(f"device key: {status.device}")
    recovery = "set" if status.recovery_set else "NOT SET"
    print(f"recovery passphrase: {recovery}{' (demo)' if status.demo_recovery else ''}")


def _audit_event(core: Core, action: str, subject: str = "", detail: str = "") -> int:
    from kiosk.services import audit

    audit.record_event(core.vault, core.clock, actor=_actor(), action=action, subject=subject,
                       detail=detail)
    return 0


# -- backups ------------------------------------------------------------------------------------

def _backup(args: argparse.Namespace) -> int:
    if args.backup_command == "restore":
        return _restore(args)

    def run(core: Core) -> int:
        from kiosk.store.backup import list_backups

        if args.backup_command == "now":
            made = core.backups.backup_now(core.clock.now(), actor=_actor())
            print(f"{made.path} ({made.payments} payments); removed {len(made.removed)} old")
            return 0
        for info in list_backups(core.backups.policy.folder):
            print(f"{info.path}  {info.made_at.isoformat()}  {info.size} bytes")
        return 0

    return _with_core(args, run)


def _restore(args: argparse.Namespace) -> int:
    """Restore needs a supervisor's step-up when the current vault opens; when it does not
    (which is why one restores), access to this machine's account is the only gate."""
    from kiosk.bootstrap import build_core
    from kiosk.clock import SystemClock
    from kiosk.store import backup, keys

    settings = _settings(args)
    unlocked = keys.unlock(keys.places(settings), demo=settings.demo)
    backup.verify_backup(args.file, unlocked.key)  # refuse before asking anyone anything
    detail = _restore_approval(args)
    restored = backup.restore(args.file, vault_path=settings.vault_path, key=unlocked.key,
                              now=SystemClock().now())
    core = build_core(settings)
    try:
        _audit_event(core, "backup.restored", subject=args.file.name, detail=detail)
    finally:
        core.close()
    print(f"Restored {restored.payments} payments from {args.file}.")
    print(f"The replaced vault files are in {restored.safety_folder}.")
    return 0


def _restore_approval(args: argparse.Namespace) -> str:
    from kiosk.errors import VaultError

    try:
        _with_core(args, _approve_restore)
    except VaultError as exc:
        if exc.code == "vault_in_use":
            raise
        print(f"The current vault does not open ({exc.code}); restoring without approval.",
              file=sys.stderr)
        return f"current vault unusable: {exc.code}"
    return "approved"


def _approve_restore(core: Core) -> int:
    from kiosk.domain.staff import Role

    by = _approval(core, "backup.restore", Role.SUPERVISOR)
    _audit_event(core, "backup.restore.approved", subject=by.username)
    return 0


# -- device -------------------------------------------------------------------------------------

def _device(args: argparse.Namespace) -> int:
    if args.device_command == "enroll":
        return _with_core(args, lambda core: _device_enroll(core, args.code))
    return _with_core(args, _device_status)


def _device_enroll(core: Core, code: str) -> int:
    from sync.enrollment import enroll

    status = enroll(core, code, actor=_actor())
    print(f"Enrolled as kiosk {status.kiosk_id} at {status.exchange_url}. The device secret "
          "is kept in the vault; every request is signed with it.")
    return 0


def _device_status(core: Core) -> int:
    from kiosk.services.device import device_status

    status = device_status(vault=core.vault)
    if not status.enrolled:
        print(f"not enrolled: requests are signed as kiosk {core.settings.kiosk_id} with the "
              "secret in settings (device_token)")
        return 0
    at = status.enrolled_at.isoformat() if status.enrolled_at else "?"
    print(f"enrolled as kiosk {status.kiosk_id} at {status.exchange_url} on {at}")
    return 0


# -- audit --------------------------------------------------------------------------------------

def _audit(args: argparse.Namespace) -> int:
    from kiosk.services import audit

    def run(core: Core) -> int:
        report = core.vault.call(audit.verify)
        acknowledged = core.vault.call(audit.acknowledgement)
        seen = acknowledged.receipt.seq if acknowledged else 0
        for problem in report.problems:
            where = f" (now at #{problem.found_at})" if problem.found_at is not None else ""
            after = ", after the exchange acknowledged it" if problem.entry_id <= seen else ""
            print(f"entry #{problem.entry_id}: {problem.problem}{where}{after}")
        state = "intact" if report.intact else f"{len(report.problems)} problem(s)"
        print(f"audit trail {state}: {report.entries} entries, head #{report.head_id} "
              f"{report.head_mac[:16]}")
        holds = _print_acknowledgement(acknowledged)
        return 0 if report.intact and holds else 1

    return _with_core(args, run)


def _print_acknowledgement(acknowledged: Acknowledgement | None) -> bool:
    """Say what the exchange last acknowledged; False when the trail no longer holds it."""
    if acknowledged is None:
        print("the exchange has not acknowledged any entry yet")
        return True
    receipt = acknowledged.receipt
    signed = "signature verified" if receipt.verified else "signature NOT verified"
    print(f"the exchange acknowledged entry {receipt.seq} (head {receipt.head[:16]}) at "
          f"{receipt.received_at} ({signed}, key {receipt.key_id})")
    if not acknowledged.holds:
        print(f"entry #{receipt.seq}: not the entry the exchange acknowledged: the trail was "
              "rewritten after acknowledgement")
    return acknowledged.holds


def _totp(args: argparse.Namespace) -> int:
    from kiosk.clock import SystemClock
    from kiosk.demo import DEMO_USERNAME, current_demo_code, seconds_left

    if not args.demo:
        print("Only the demo account's code can be printed (use --demo).", file=sys.stderr)
        return 2
    clock = SystemClock()
    print(f"{DEMO_USERNAME}: {current_demo_code(clock)} (changes in {seconds_left(clock)} s)")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "staff": _staff, "keys": _keys, "backup": _backup, "audit": _audit, "device": _device,
    "totp": _totp,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in _COMMANDS:
            logs.configure(None, level=logging.WARNING)  # redacted, like the window's logs
            return _COMMANDS[args.command](args)
        app = importlib.import_module("ui.app")
        return int(app.run(data_dir=_data_dir(args), demo=args.demo, smoke=args.smoke,
                           kiosk_mode=args.kiosk))
    except KioskError as exc:
        print(f"error: {exc.code} {exc.details}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
