"""Time limits on a shared machine: the member's part of a visit, and the staff session.

An application-wide event filter notes every key press, click and touch. When the member's
part of a visit has been idle for `member_idle_s` (90 s by default) a warning counts down at
least 20 seconds with an "I need more time" button, which can be used as often as needed
(WCAG 2.2.1 asks for at least ten times); then the visit is wiped. When the staff session has
been idle for `staff_idle_s` (15 minutes by default) it locks: password and code again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

_INPUT_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin,
                 QEvent.Type.Wheel, QEvent.Type.TabletPress}


class IdleWatcher(QObject):
    """Ticks once a second and says when a limit is reached. Call `install` on the app."""

    sig_member_warning = Signal(int)
    """The member's time is nearly up: carries the seconds left to answer."""
    sig_member_timeout = Signal()
    """The member did not answer the warning: wipe the visit."""
    sig_staff_timeout = Signal()
    """The staff session was idle too long: lock it."""
    sig_tick = Signal()
    """Once a second, for checks that depend on the time of day (session expiry)."""

    def __init__(self, *, now: Callable[[], float], member_idle_s: float = 90.0,
                 warning_s: float = 30.0, staff_idle_s: float = 15 * 60.0) -> None:
        super().__init__()
        self._now = now
        self.member_idle_s = member_idle_s
        self.warning_s = max(20.0, warning_s)
        self.staff_idle_s = staff_idle_s
        self.member_active = False  # is a member's part of the visit on screen?
        self.staff_active = False  # is a staff member signed in?
        self.extensions = 0
        self._last_input = now()
        self._warning_since: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT_EVENTS and self._warning_since is None:
            self.touch()
        return False

    def touch(self) -> None:
        """Someone used the kiosk just now."""
        self._last_input = self._now()

    def more_time(self) -> None:
        """The member pressed "I need more time": the clock starts again."""
        self.extensions += 1
        self._warning_since = None
        self.touch()

    def reset(self) -> None:
        """A new visit, or a new sign-in: no warning pending, a fresh clock."""
        self._warning_since = None
        self.extensions = 0
        self.touch()

    def seconds_left(self) -> int:
        if self._warning_since is None:
            return int(self.warning_s)
        return max(0, int(self.warning_s - (self._now() - self._warning_since) + 0.999))

    def check(self) -> None:
        """Compare the idle time with the limits; emits at most one limit signal."""
        self.sig_tick.emit()
        idle = self._now() - self._last_input
        if self.staff_active and idle >= self.staff_idle_s:
            self._warning_since = None
            self.sig_staff_timeout.emit()
            return
        if not self.member_active:
            self._warning_since = None
            return
        if self._warning_since is not None:
            if self.seconds_left() <= 0:
                self._warning_since = None
                self.sig_member_timeout.emit()
            else:
                self.sig_member_warning.emit(self.seconds_left())
        elif idle >= self.member_idle_s:
            self._warning_since = self._now()
            self.sig_member_warning.emit(self.seconds_left())
