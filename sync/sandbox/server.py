"""Run the sandbox exchange as a child process, for the kiosk's demo mode and for tests.

`SandboxProcess` starts ``python -m sync.sandbox`` with the current interpreter, waits for its
listening line and knows its URL. It can be stopped and started again on the same port with
the same database, which is how tests show "the exchange went away and came back".
This module imports neither the web stack nor anything from the kiosk: the exchange runs in
its own process.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

from .config import DEFAULT_MEMBERS, DEFAULT_SEED, DEMO_TOKEN

logger = logging.getLogger(__name__)

_LISTENING = re.compile(
    r"^sandbox exchange listening on (?P<scheme>https?)://(?P<host>.+):(?P<port>\d+)$"
)
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_STDERR_TAIL_CHARS = 4000


class SandboxStartError(RuntimeError):
    """The exchange process did not announce that it was listening."""


class SandboxProcess:
    """One sandbox exchange child process. Not thread-safe: drive it from one thread.

    ``port=0`` lets the first start pick a free port; later starts reuse that port.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = DEFAULT_SEED,
        members: int = DEFAULT_MEMBERS,
        token: str = DEMO_TOKEN,
        demo_secret: bool = True,
        today: date | None = None,
        startup_timeout: float = 20.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls` is (certificate, key), both PEM: the exchange then serves HTTPS. With
        `demo_secret` false only enrolled kiosks' own secrets are accepted."""
        self.db_path = db_path
        self.host = host
        self._port = port
        self.tls = tls
        self._options = ["--seed", str(seed), "--members", str(members), "--token", token]
        if not demo_secret:
            self._options.append("--no-demo-secret")
        if today is not None:
            self._options += ["--today", today.isoformat()]
        if tls is not None:
            self._options += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stdin: IO[str] | None = None
        self._stdout: IO[str] | None = None
        self._stderr: IO[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the exchange listens on (0 before the first start with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (``https://`` when serving TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self._port}"

    def receipt_key(self) -> str:
        """The exchange's newest receipt-signing public key (base64 raw Ed25519), read from
        its database once it has started: what the demo gives the kiosk as
        `exchange_receipt_key`. Reads only; "" before the first start."""
        if not self.db_path.exists():
            return ""
        uri = f"file:{quote(str(self.db_path))}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10.0)) as conn:
            try:
                row = conn.execute(
                    "SELECT public_key FROM exchange_keys ORDER BY created_at DESC LIMIT 1"
                ).fetchone()
            except sqlite3.OperationalError:  # a database from before receipts
                return ""
        return str(row[0]) if row else ""

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the exchange and block until it accepts connections (or raise)."""
        if self.running:
            raise RuntimeError("the sandbox exchange is already running")
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._process = subprocess.Popen(
            self._command(),
            stdin=subprocess.PIPE,  # the child exits when this closes, even if we are killed
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=self._environment(),
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(
            target=_pump_lines,
            args=(self._process.stdout, lines),
            name="sandbox-stdout",
            daemon=True,
        )
        self._reader.start()
        self._await_listening(lines)
        logger.info("sandbox exchange running at %s (pid %d)", self.url, self._process.pid)
        return self

    def stop(self) -> None:
        """Stop the exchange: terminate, and kill it if it has not exited after 5 seconds."""
        self._end_process()
        self._close_streams()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sync.sandbox",
            "--host",
            self.host,
            "--port",
            str(self._port),
            "--db",
            str(self.db_path),
            "--stop-on-stdin-eof",
            *self._options,
        ]

    def _environment(self) -> dict[str, str]:
        # The child must find `sync` even when the project is not installed.
        env = dict(os.environ)
        paths = [str(_PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def _await_listening(self, lines: queue.Queue[str | None]) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            match = _LISTENING.match(line or "")
            if match:
                self._port = int(match["port"])
                return
            if line is None:
                break
        self._fail("did not start listening")

    def _fail(self, what: str) -> None:
        exit_code = self._end_process()
        stderr_tail = _tail(self._stderr)
        self._close_streams()
        raise SandboxStartError(
            f"sandbox exchange {what} within {self._startup_timeout:g} s "
            f"(exit code {exit_code}); its stderr ends with:\n{stderr_tail}"
        )

    def _end_process(self) -> int | None:
        """Make sure the child has exited; returns its exit code, None if there was none."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.warning("sandbox exchange ignored terminate; killing it")
                process.kill()
                process.wait()
        self._stdin, self._stdout = process.stdin, process.stdout
        return process.returncode

    def _close_streams(self) -> None:
        # The child has exited, so its stdout reaches end of file and the reader ends.
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        for stream in (self._stdin, self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stdin = self._stdout = self._stderr = None


def _pump_lines(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout lines; None marks its end. Keeps the pipe drained."""
    if stream is None:
        lines.put(None)
        return
    for line in stream:
        lines.put(line.rstrip("\r\n"))
    lines.put(None)


def _tail(stream: IO[str] | None) -> str:
    if stream is None:
        return ""
    stream.flush()
    stream.seek(0)
    return stream.read()[-_STDERR_TAIL_CHARS:]
