"""Command line of the sandbox card terminal.

``python -m sync.terminal --port N [--host 127.0.0.1] [--seed 7] [--poi-id SANDBOX-P400]``
serves the terminal with uvicorn and, once it accepts connections, prints exactly one line to
stdout: ``sandbox terminal listening on http://HOST:PORT``. Port 0 picks a free port; the line
names the real one. All logging goes to stderr. With ``--stop-on-stdin-eof`` it shuts down
when its stdin closes, so it never outlives the process that started it (`TerminalProcess`).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading

import uvicorn

from .app import create_app
from .device import SandboxDevice

logger = logging.getLogger(__name__)

LISTENING_LINE = "sandbox terminal listening on http://{host}:{port}"
GRACEFUL_SHUTDOWN_SECONDS = 1  # held payment answers are dropped on shutdown


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints the listening line once it is serving."""

    def __init__(self, config: uvicorn.Config, *, announce: str) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            print(self._announce, flush=True)

    def stop_when_stdin_closes(self) -> None:
        """Shut down once stdin reaches end of file: the parent closed it, or died."""
        threading.Thread(target=self._watch_stdin, name="stdin-watch", daemon=True).start()

    def _watch_stdin(self) -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        logger.info("stdin closed; shutting down")
        self.should_exit = True


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 2
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    server = _AnnouncingServer(
        uvicorn.Config(create_app(SandboxDevice(seed=args.seed, poi_id=args.poi_id)),
                       host=args.host, port=port, log_config=None, lifespan="off",
                       timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS),
        announce=LISTENING_LINE.format(host=host, port=port),
    )
    if args.stop_on_stdin_eof:
        server.stop_when_stdin_closes()
    server.run(sockets=[sock])
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync.terminal",
                                     description="Run the sandbox card terminal.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7, help="seeds cards and codes")
    parser.add_argument("--poi-id", default="SANDBOX-P400", help="the terminal's POIID")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--stop-on-stdin-eof", action="store_true",
                        help="shut down when stdin is closed (used by TerminalProcess)")
    return parser


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound here so that port 0 resolves before announcing."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so asyncio turns Nagle off (see sync/sandbox/__main__.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, port))
    sock.listen(64)
    return sock


if __name__ == "__main__":
    sys.exit(main())
