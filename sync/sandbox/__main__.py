"""Command line of the sandbox exchange.

``python -m sync.sandbox --host 127.0.0.1 --port 8765 --db PATH [--seed 7] [--members 240]
[--token TOKEN] [--no-demo-secret] [--today YYYY-MM-DD] [--tls-cert PEM --tls-key PEM]``
serves the exchange with uvicorn (over HTTPS with the certificate and key given) and, once it
accepts connections, prints exactly one line to stdout: ``sandbox exchange listening on
http://HOST:PORT`` (``https://`` with TLS). Port 0 picks a free port; the line names the real
one. All logging goes to stderr. A new database is seeded from --seed, --members and --today;
an existing one keeps its data, so a restarted exchange still holds its payments, idempotency
keys, enrolled kiosks and receipt-signing key.
``python -m sync.sandbox --write-openapi docs/openapi.json`` writes the OpenAPI document
instead of serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
from datetime import date
from pathlib import Path

import uvicorn

from . import openapi
from .app import create_app
from .config import DEFAULT_MEMBERS, DEFAULT_SEED, DEMO_TOKEN, SandboxConfig

logger = logging.getLogger(__name__)

LISTENING_LINE = "sandbox exchange listening on {scheme}://{host}:{port}"
# Requests still running at shutdown (a payment held by an injected delay) get this long.
GRACEFUL_SHUTDOWN_SECONDS = 2


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
        """Shut down once stdin reaches end of file: the parent closed it, or died.

        A parent that is killed cannot stop its child; the pipe closing is what it leaves
        behind on every platform, so the exchange never outlives the kiosk or test run.
        """
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
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.write_openapi is not None:
        # The document does not depend on the database; the app never opens this path.
        app = create_app(Path("unused.sqlite3"), config=SandboxConfig())
        openapi.write(app, args.write_openapi)
        return 0
    if args.db is None:
        parser.error("--db is required to serve")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 2
    _serve(args, sock)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync.sandbox",
        description="Run the sandbox exchange (docs/SYNC_CONTRACT.md).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--db", type=Path, help="the exchange's sqlite3 file (created if absent)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--token", default=DEMO_TOKEN,
                        help="the demo device secret, accepted from kiosks not enrolled")
    parser.add_argument("--no-demo-secret", dest="demo_secret", action="store_false",
                        help="accept only enrolled kiosks' own secrets, as a real exchange")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="anchor the demo data to this date (YYYY-MM-DD); default today",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="shut down when stdin is closed (used by SandboxProcess)",
    )
    parser.add_argument(
        "--write-openapi",
        type=Path,
        metavar="PATH",
        help="write the OpenAPI document to PATH and exit",
    )
    return parser


def _serve(args: argparse.Namespace, sock: socket.socket) -> None:
    config = SandboxConfig(
        token=args.token, accept_demo_secret=args.demo_secret, seed=args.seed,
        members=args.members, today=args.today or date.today()
    )
    port = sock.getsockname()[1]
    tls = args.tls_cert is not None
    server = _AnnouncingServer(
        uvicorn.Config(
            create_app(args.db, config=config),
            host=args.host,
            port=port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            ssl_certfile=str(args.tls_cert) if tls else None,
            ssl_keyfile=str(args.tls_key) if tls else None,
        ),
        announce=LISTENING_LINE.format(scheme="https" if tls else "http",
                                       host=_url_host(args.host), port=port),
    )
    if args.stop_on_stdin_eof:
        server.stop_when_stdin_closes()
    server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, bound here so that port 0 resolves before announcing."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they
    # are TCP. Without it a kept-alive connection waits ~40 ms per answer for a delayed ACK,
    # because the answer is written as two segments (headers, then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if os.name != "nt":
        # Lets a restarted exchange take its port back while old connections sit in
        # TIME_WAIT. Not on Windows, where the option would let two servers share the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    sys.exit(main())
