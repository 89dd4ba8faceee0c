"""What every screen gets: the core, the task runner and the signed-in staff member."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.bootstrap import Core
from kiosk.domain.staff import StaffSession
from sync.hosted import HostedLinks
from ui.demo_terminal import DemoTerminal
from ui.speech import Narrator
from ui.tasks import TaskRunner


def _nothing() -> None:
    """Default for `nudge_sync` when no sync worker runs (first run, some tests)."""


@dataclass(slots=True, kw_only=True)
class ScreenContext:
    core: Core
    runner: TaskRunner
    nudge_sync: Callable[[], None] = _nothing
    send_now: Callable[[], None] = _nothing
    session: StaffSession | None = None
    narrator: Narrator = field(default_factory=Narrator)
    member_language: str = "en"  # what the member reads and hears; chosen at each visit
    demo_terminal: DemoTerminal | None = None  # demo only: how the sandbox terminal answers
    hosted_links: HostedLinks | None = None  # PayPal and Venmo links, made by the exchange
