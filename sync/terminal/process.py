"""Run the sandbox card terminal as a child process, and drive its sandbox controls.

`TerminalProcess` starts ``python -m sync.terminal`` with the current interpreter on a free
port (or the one given), waits for its listening line and knows its URL; `stop` ends it. The
child also ends when this process dies, because its stdin pipe closes. `TerminalControl` picks
the scenario (`POST /_sandbox/scenario`, what the demo screen offers) and reads the terminal's
own record of transactions (`GET /_sandbox/transactions`). Imports nothing of the kiosk.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import requests

from .scenarios import Scenario, ScenarioSettings

log = logging.getLogger(__name__)

_LISTENING = re.compile(r"^sandbox terminal listening on (?P<url>http://\S+:(?P<port>\d+))$")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_CONTROL_TIMEOUT = (2.0, 5.0)


class TerminalStartError(RuntimeError):
    """The terminal process did not announce that it was listening."""


class TerminalControl:
    """The sandbox-only controls of one sandbox terminal. Thread-safe (a session per call)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def set_scenario(self, scenario: Scenario | str, **knobs: Any) -> ScenarioSettings:
        """Play `scenario` from the next payment on; `knobs` as in ScenarioSettings."""
        body = ScenarioSettings(scenario=Scenario(scenario), **knobs).to_json()
        answer = self._call("POST", "/_sandbox/scenario", json=body)
        return ScenarioSettings.from_json(answer)

    def transactions(self) -> list[dict[str, Any]]:
        """Every payment request the terminal received, oldest first."""
        found = self._call("GET", "/_sandbox/transactions")["transactions"]
        assert isinstance(found, list)
        return found

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with requests.Session() as session:
            session.trust_env = False
            answer = session.request(method, self.base_url + path, timeout=_CONTROL_TIMEOUT,
                                     **kwargs)
        answer.raise_for_status()
        body = answer.json()
        assert isinstance(body, dict)
        return body


class TerminalProcess:
    """One sandbox terminal child process. Drive it from one thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 7,
                 startup_timeout: float = 20.0) -> None:
        self.host = host
        self._port = port
        self._seed = seed
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (0 before the first start with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def control(self) -> TerminalControl:
        return TerminalControl(self.url)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the terminal and block until it accepts connections (or raise)."""
        if self.running:
            raise RuntimeError("the sandbox terminal is already running")
        # Append mode: the child always writes at the end, whatever `log_text` reads.
        self._stderr = tempfile.TemporaryFile(mode="a+", encoding="utf-8", errors="replace")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sync.terminal", "--host", self.host, "--port",
             str(self._port), "--seed", str(self._seed), "--stop-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            encoding="utf-8", env=_environment(),
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=_pump_lines, args=(self._process.stdout, lines),
                                        name="terminal-stdout", daemon=True)
        self._reader.start()
        self._await_listening(lines)
        log.info("sandbox terminal running at %s (pid %d)", self.url, self._process.pid)
        return self

    def stop(self) -> None:
        """Stop the terminal: terminate, and kill it if it has not exited after 5 seconds.
        Its record of transactions goes with it."""
        process, self._process = self._process, None
        if process is not None:
            _end(process)
        if self._reader is not None:  # the child has exited, so its stdout is at its end
            self._reader.join(timeout=2)
            self._reader = None
        for stream in (process.stdin, process.stdout) if process is not None else ():
            if stream is not None:
                stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _await_listening(self, lines: queue.Queue[str | None]) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if line is None:
                break
            match = _LISTENING.match(line)
            if match:
                self._port = int(match["port"])
                return
        tail = self.log_text()[-4000:]
        self.stop()
        raise TerminalStartError(f"the sandbox terminal did not start listening within "
                                 f"{self._startup_timeout:g} s; its stderr ends with:\n{tail}")

    def log_text(self) -> str:
        """Everything the terminal has logged (its stderr) while it has been running."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()


def _environment() -> dict[str, str]:
    # The child must find `sync` even when the project is not installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT),
                                                      env.get("PYTHONPATH")]))
    return env


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("sandbox terminal ignored terminate; killing it")
            process.kill()
            process.wait()


def _pump_lines(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout lines; None marks the end. Keeps the pipe drained."""
    if stream is not None:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
    lines.put(None)
