"""The kiosk read from outside, the way a screen reader reads it: over the AT-SPI bus.

Each test runs the real window (`tests/atspi_app.py`) on Qt's xcb platform under a private
Xvfb display, D-Bus session and AT-SPI bus, and reads it from a separate process with pyatspi
(`tests/atspi_reader.py`, run by the system python that carries pyatspi). What the reader gets
is what Orca would get: roles, names and states answered by Qt's AT-SPI bridge over D-Bus.

Set-up needs Xvfb, dbus-daemon, at-spi2-core, pyatspi for /usr/bin/python3 and the libraries
of Qt's xcb plugin. When any is missing the test runs `.ci/install-atspi` (as root only); if
they still cannot be had, it is skipped with the reason. Every process it starts is stopped
at the end, on failure too.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.atspi_app import APP_NAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
READER = ROOT / "tests" / "atspi_reader.py"
INSTALL = ROOT / ".ci" / "install-atspi"
SYSTEM_PYTHON = "/usr/bin/python3"  # the python the distribution's pyatspi belongs to
BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
START_SECONDS = 20.0
# Roles a person operates; each must carry a name a screen reader can say.
CONTROL_ROLES = {
    "push button", "toggle button", "check box", "radio button", "text", "password text",
    "entry", "combo box", "spin button", "list", "list box", "table", "tree", "slider",
    "page tab", "menu item",
}
SIGN_IN = ("push button", "Sign in")
KEYPAD = "Number keypad"  # the on-screen keypad's accessible name (ui/widgets/keypad.py)
MAX_TAB_STOPS = 30  # from Username to Sign in; more means Tab never gets there
Node = dict[str, Any]


# -- what the machine needs ------------------------------------------------------------------
def qt_xcb_missing_libraries() -> list[str]:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists() or not shutil.which("ldd"):
        return []  # a Qt laid out differently; a load failure then shows when the app starts
    listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    return sorted({line.split()[0] for line in listing.splitlines() if "not found" in line})


def missing_prerequisites() -> list[str]:
    missing = [tool for tool in ("Xvfb", "dbus-daemon") if not shutil.which(tool)]
    if not os.access(BUS_LAUNCHER, os.X_OK):
        missing.append(BUS_LAUNCHER)
    if not os.access(SYSTEM_PYTHON, os.X_OK) or subprocess.run(
            [SYSTEM_PYTHON, "-I", "-c", "import pyatspi"], capture_output=True).returncode:
        missing.append(f"pyatspi for {SYSTEM_PYTHON}")
    missing += [f"{lib} (for Qt's xcb plugin)" for lib in qt_xcb_missing_libraries()]
    return missing


def ensure_prerequisites() -> None:
    """Install what is missing when we may; otherwise skip, saying what and why."""
    if not sys.platform.startswith("linux"):
        pytest.skip("AT-SPI is the Linux accessibility bus; this platform has none")
    missing = missing_prerequisites()
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.skip(f"AT-SPI test needs {', '.join(missing)}; not root, so not installing "
                    f"them: run .ci/install-atspi as root")
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=900)
    missing = missing_prerequisites()
    if missing:
        said = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        why = said[0] if done.returncode else "it ran, yet they are still missing"
        pytest.skip(f"AT-SPI test needs {', '.join(missing)}; .ci/install-atspi could not "
                    f"install them: {why}")


# -- processes ---------------------------------------------------------------------------------
def read_line(stream: IO[bytes] | int, seconds: float) -> str | None:
    """One line from a pipe, or None when it closes or stays silent for `seconds`."""
    fd = stream if isinstance(stream, int) else stream.fileno()
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            return None
        byte = os.read(fd, 1)  # byte by byte: nothing past the line is taken from the pipe
        if not byte:
            return None
        line += byte
    return line.decode().strip()


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process and whatever it started in its session (each is started in its own):
    SIGTERM to the group, a moment to finish, then SIGKILL to anything left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass  # the group is gone already
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            continue


class Desktop:
    """A private X display, D-Bus session and AT-SPI bus: what a Linux desktop gives a screen
    reader, without touching the machine's own session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        runtime = folder / "run"
        runtime.mkdir(mode=0o700)
        self.env = {k: v for k, v in os.environ.items() if k not in {
            "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS",
            "QT_QPA_PLATFORM", "XAUTHORITY"}}
        # Private sockets and settings: the bus goes in XDG_RUNTIME_DIR, not ~/.cache.
        self.env.update(XDG_RUNTIME_DIR=str(runtime), GSETTINGS_BACKEND="memory")
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, args: list[str], **options: Any) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{Path(args[0]).name}.log", "wb")  # noqa: SIM115
        with log:
            process = subprocess.Popen(args, env=options.pop("env", self.env),
                                       stderr=log, start_new_session=True, **options)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace").strip()[-1500:] if path.exists() else ""

    def start(self) -> None:
        self._start_x()
        self._start_dbus()
        self._start_atspi()

    def _start_x(self) -> None:
        readable, writable = os.pipe()
        try:
            self.spawn(["Xvfb", "-displayfd", str(writable), "-screen", "0", "1280x1024x24",
                        "-nolisten", "tcp"], pass_fds=(writable,), stdout=subprocess.DEVNULL)
            os.close(writable)
            display = read_line(readable, START_SECONDS)
        finally:
            os.close(readable)
        if not display:
            pytest.skip(f"Xvfb did not start: {self.log('Xvfb') or 'no message'}")
        self.env["DISPLAY"] = f":{display}"

    def _start_dbus(self) -> None:
        daemon = self.spawn(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                            stdout=subprocess.PIPE)
        assert daemon.stdout is not None
        address = read_line(daemon.stdout, START_SECONDS)
        if not address:
            pytest.skip(f"no D-Bus session daemon: {self.log('dbus-daemon') or 'no message'}")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address

    def _start_atspi(self) -> None:
        # Started here rather than on demand, so it is our child and stops with the rest;
        # the registry daemon it starts runs in its session.
        self.spawn([BUS_LAUNCHER, "--launch-immediately"], stdout=subprocess.DEVNULL)
        answer = self.read("ping", wait=START_SECONDS / 2)
        if "apps" not in answer:
            pytest.skip(f"the AT-SPI bus did not come up ({answer.get('error')}): "
                        f"{self.log('at-spi-bus-launcher') or 'no message'}")

    def read(self, *args: str, wait: float = 10.0) -> dict[str, Any]:
        """Run the reader under the system python; its JSON answer."""
        env = {k: v for k, v in self.env.items()
               if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
        done = subprocess.run([SYSTEM_PYTHON, "-I", str(READER), *args, "--wait", str(wait)],
                              env=env, capture_output=True, text=True, timeout=wait + 20)
        try:
            answer: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            answer = {"error": f"reader exit {done.returncode}: {done.stderr.strip()[-1500:]}"}
        return answer

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


class Kiosk:
    """The window in its own process, stepped by commands on its stdin."""

    def __init__(self, desktop: Desktop, data_dir: Path) -> None:
        self.desktop = desktop
        env = dict(desktop.env, QT_QPA_PLATFORM="xcb", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1",
                   QT_ACCESSIBILITY="1")
        self.process = desktop.spawn([sys.executable, "-m", "tests.atspi_app", str(data_dir)],
                                     cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def wait_until_ready(self) -> None:
        ready = self.answer()
        if not ready.get("ready"):
            log = self.desktop.log(Path(sys.executable).name)
            if 'platform plugin "xcb"' in log:
                pytest.skip(f"Qt's xcb platform plugin cannot load here: {log}")
            pytest.fail(f"the kiosk window did not start with focus on Username: {ready} {log}")

    def answer(self, seconds: float = START_SECONDS) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = read_line(self.process.stdout, seconds)
        return json.loads(line) if line else {"error": "the kiosk process said nothing"}

    def send(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()
        return self.answer()

    def quit(self) -> None:
        """Ask the window to close, as a person would, before the process is stopped."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass  # stop() below ends it either way

    def tree(self) -> Node:
        answer = self.desktop.read("tree", APP_NAME, "--pid", str(self.process.pid))
        assert "tree" in answer, answer
        return answer["tree"]  # type: ignore[no-any-return]

    def focus(self) -> Node | None:
        """The focused object as the reader finds it, with `ancestors` (role and name of each
        object above it) added."""
        answer = self.desktop.read("focus", APP_NAME, "--pid", str(self.process.pid))
        assert "focus" in answer, answer
        focus: Node | None = answer["focus"]
        if focus is not None:
            focus["ancestors"] = answer["ancestors"]
        return focus


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def desktop() -> Iterator[Desktop]:
    ensure_prerequisites()
    folder = Path(tempfile.mkdtemp(prefix="atspi-"))  # short: it holds the bus's socket
    running = Desktop(folder)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def kiosk(desktop: Desktop, tmp_path: Path) -> Iterator[Kiosk]:
    running = Kiosk(desktop, tmp_path / "kiosk-data")
    try:
        running.wait_until_ready()
        yield running
        running.quit()
    finally:
        stop(running.process)
        desktop.processes.remove(running.process)


# -- reading the tree -------------------------------------------------------------------------
def nodes(tree: Node) -> Iterator[Node]:
    yield tree
    for child in tree["children"]:
        yield from nodes(child)


def controls(tree: Node) -> list[Node]:
    return [n for n in nodes(tree) if n["role"] in CONTROL_ROLES]


def said(node: Node | None) -> tuple[str, str] | None:
    """What a screen reader announces first: the role and the name."""
    return None if node is None else (node["role"], node["name"])


def in_keypad(node: Node | None) -> bool:
    return node is not None and any(a["name"] == KEYPAD for a in node["ancestors"])


def unnamed(tree: Node) -> list[str]:
    return [f"{n['role']} {sorted(n['states'])}" for n in controls(tree) if not n["name"].strip()]


# -- tests ------------------------------------------------------------------------------------
def test_sign_in_controls_have_the_names_and_roles_a_screen_reader_says(kiosk: Kiosk) -> None:
    tree = kiosk.tree()
    assert tree["role"] == "application" and tree["name"] == APP_NAME
    assert ("frame", "Health Connector Kiosk") in {said(n) for n in tree["children"]}
    assert unnamed(tree) == []
    seen = {(n["role"], n["name"]) for n in controls(tree)}
    assert {("text", "Username"), ("password text", "Password"), ("text", "6-digit code"),
            ("push button", "Sign in")} <= seen, sorted(seen)
    assert any(n["role"] == "combo box" for n in controls(tree)), "the language choice"
    fields = {n["name"]: n for n in controls(tree) if n["role"] in {"text", "password text"}}
    for name in ("Username", "Password", "6-digit code"):
        assert fields[name]["labelled_by"] == [name]  # the visible label is tied to it
    assert fields["6-digit code"]["description"] == "The code shown in your authenticator app"


def test_the_reader_hears_username_password_code_then_sign_in_on_tab(kiosk: Kiosk) -> None:
    """Tab goes through the fields in reading order to Sign in, with exactly one stop in the
    on-screen keypad beside the code field (the arrows move inside it)."""
    heard = [kiosk.focus()]
    qt_side = []  # what Qt says got focus: only to explain a failure
    while said(heard[-1]) != SIGN_IN and len(heard) < MAX_TAB_STOPS:
        qt_side.append(kiosk.send("tab").get("focus"))
        heard.append(kiosk.focus())
    summary = [(said(f), in_keypad(f)) for f in heard]
    assert [said(f) for f in heard[:3]] == [("text", "Username"), ("password text", "Password"),
                                            ("text", "6-digit code")], (summary, qt_side)
    assert said(heard[-1]) == SIGN_IN, (summary, qt_side)
    assert len(heard) == 5 and in_keypad(heard[3]), (summary, qt_side)


def test_the_search_screen_after_sign_in_names_every_control(kiosk: Kiosk) -> None:
    assert kiosk.send("screen search") == {"ok": True, "screen": "find_member", "error": None}
    tree = kiosk.tree()
    assert unnamed(tree) == []
    seen = {(n["role"], n["name"]) for n in controls(tree)}
    assert ("text", "Search for a member") in seen, sorted(seen)
    assert ("push button", "Sign out") in seen, sorted(seen)
    assert not any(n["name"] == "Sign in" for n in controls(tree))  # sign-in is not showing
    assert said(kiosk.focus()) == ("text", "Search for a member")


def test_the_reader_walk_notices_an_unnamed_control() -> None:
    tree = {"role": "frame", "name": "w", "states": [], "children": [
        {"role": "push button", "name": " ", "states": ["showing"], "children": []},
        {"role": "label", "name": "", "states": ["showing"], "children": []}]}
    assert unnamed(tree) == ["push button ['showing']"]


def test_the_screen_heading_is_read_by_its_text(kiosk: Kiosk) -> None:
    labels = {n["name"] for n in nodes(kiosk.tree()) if n["role"] == "label"}
    assert "Staff sign-in" in labels, sorted(labels)


def test_the_language_choice_is_announced_as_language(kiosk: Kiosk) -> None:
    combos = [n for n in controls(kiosk.tree()) if n["role"] == "combo box"]
    assert any("Language" in [n["name"], *n["labelled_by"]] for n in combos), combos
