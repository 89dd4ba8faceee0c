"""Command line of the kiosk: `python -m kiosk [--demo] [--smoke]`, `staff add`, `totp`.

This is the launcher, not part of the core: it is the one module in `kiosk/` that reaches
the screens (`ui.app`), and it imports them only when the window is wanted.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import sys
from pathlib import Path

from kiosk.errors import KioskError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiosk",
                                     description="Health Connector Kiosk")
    parser.add_argument("--demo", action="store_true",
                        help="run with the sandbox exchange, a sandbox terminal and demo data")
    parser.add_argument("--smoke", action="store_true",
                        help="start, show the first screen, print 'ready' and exit")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the kiosk's data folder (default: the per-user data folder)")
    sub = parser.add_subparsers(dest="command")
    staff = sub.add_parser("staff", help="manage staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="enrol a staff member")
    add.add_argument("--username", required=True)
    add.add_argument("--display-name", required=True)
    add.add_argument("--role", default="navigator",
                     choices=["navigator", "supervisor", "administrator"])
    sub.add_parser("totp", help="print the demo navigator's current code (demo only)")
    return parser


def _data_dir(args: argparse.Namespace) -> Path:
    from kiosk.settings import default_data_dir

    return Path(args.data_dir) if args.data_dir else default_data_dir(demo=args.demo)


def _staff_add(args: argparse.Namespace) -> int:
    import segno

    from kiosk.bootstrap import build_core
    from kiosk.domain.staff import Role
    from kiosk.services.auth import EnrollStaff, enroll_staff
    from kiosk.settings import load_settings

    password = getpass.getpass("Password (at least 12 characters): ")
    if password != getpass.getpass("Password again: "):
        print("The two passwords are not the same. Nothing was saved.", file=sys.stderr)
        return 2
    core = build_core(load_settings(_data_dir(args), demo=args.demo))
    try:
        enrolled = enroll_staff(EnrollStaff(username=args.username,
                                            display_name=args.display_name,
                                            password=password, role=Role(args.role)),
                                vault=core.vault, clock=core.clock)
    finally:
        core.close()
    print(f"Enrolled {enrolled.username}. Scan this code with an authenticator app:")
    segno.make(enrolled.provisioning_uri, error="m").terminal(compact=True)
    print(f"Or type this key into the app: {enrolled.totp_secret}")
    return 0


def _totp(args: argparse.Namespace) -> int:
    from kiosk.clock import SystemClock
    from kiosk.demo import DEMO_USERNAME, current_demo_code, seconds_left

    if not args.demo:
        print("Only the demo account's code can be printed (use --demo).", file=sys.stderr)
        return 2
    clock = SystemClock()
    print(f"{DEMO_USERNAME}: {current_demo_code(clock)} (changes in {seconds_left(clock)} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "staff":
            return _staff_add(args)
        if args.command == "totp":
            return _totp(args)
        app = importlib.import_module("ui.app")
        return int(app.run(data_dir=_data_dir(args), demo=args.demo, smoke=args.smoke))
    except KioskError as exc:
        print(f"error: {exc.code} {exc.details}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
