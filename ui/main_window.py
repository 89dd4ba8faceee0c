"""The main window: the header over a stack of screens, one per step of the visit.

It owns the visit state machine (`kiosk.visit.Visit`), shows the screen for the current state,
and wires each screen's signals to the next step. It holds no business rules.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QPixmapCache, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.payments import PaymentStatus
from kiosk.domain.staff import StaffSession, session_valid
from kiosk.errors import AuthError
from kiosk.i18n import (
    N_,
    _,
    current_language,
    format_date,
    in_language,
    is_right_to_left,
    ngettext,
    set_language,
)
from kiosk.services.auth import staff_count
from kiosk.services.members import MemberAccount
from kiosk.services.payments import PaymentTaken
from kiosk.services.queue import QueueEntry, at_risk, is_urgent
from kiosk.visit import MEMBER_PAGES, Visit, VisitState
from sync.worker import SyncStatus
from ui import theme
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.dialogs.help import HelpDialog
from ui.dialogs.step_up import StepUpDialog
from ui.dialogs.timeout import TimeoutWarning
from ui.errors import message_for
from ui.header import HeaderBar
from ui.icons import refresh_icons
from ui.idle import IdleWatcher
from ui.member_display import MemberDisplay, MemberView, second_screen_geometry
from ui.printing import visit_folder
from ui.screens.autopay import AutopayScreen
from ui.screens.base import Screen, label
from ui.screens.coverage import CoverageScreen
from ui.screens.disputes import DisputesScreen
from ui.screens.enroll import EnrollScreen
from ui.screens.history import HistoryScreen
from ui.screens.member import MemberScreen
from ui.screens.methods import MethodsScreen
from ui.screens.payment import PaymentScreen
from ui.screens.preferences import PreferencesScreen
from ui.screens.profile import ProfileScreen
from ui.screens.queue import QueueScreen
from ui.screens.receipt import ReceiptScreen
from ui.screens.report import ReportScreen
from ui.screens.search import SearchScreen
from ui.screens.sign_in import SignInScreen
from ui.screens.staff import StaffScreen
from ui.screens.welcome import WelcomeScreen
from ui.theme import Appearance

# The member screen's buttons for the member's own pages: icon and words, in this order.
PAGE_BUTTONS: dict[VisitState, tuple[str, str]] = {
    VisitState.HISTORY: ("history", N_("Payment history")),
    VisitState.COVERAGE: ("coverage", N_("Plan and coverage")),
    VisitState.AUTOPAY: ("autopay", N_("Automatic payments")),
    VisitState.METHODS: ("pay", N_("Payment methods")),
    VisitState.PROFILE: ("contact", N_("Contact details")),
    VisitState.PREFERENCES: ("messages", N_("Messages and reminders")),
    VisitState.DISPUTES: ("dispute", N_("Disputes")),
}


PIXMAP_CACHE_KB = 1024


class MainWindow(QMainWindow):
    def __init__(self, ctx: ScreenContext, bridge: SyncBridge) -> None:
        super().__init__()
        # Qt keeps drawn pixmaps (icons at each size and colour, styled backgrounds) in a
        # cache of 10 MB by default, which a long day of visits fills; a kiosk with a few dozen
        # icons needs far less, and the memory is the old PC's.
        QPixmapCache.setCacheLimit(PIXMAP_CACHE_KB)
        self.ctx = ctx
        self.bridge = bridge
        self.visit = Visit()
        self.header = HeaderBar(ctx.core.settings.site_name)
        self._build_screens(ctx)
        self.deadline_banner = label("banner")
        self.deadline_banner.hide()
        self.waiting = 0
        self.appearance = Appearance()
        app = QApplication.instance()
        self.tokens = (theme.apply(app, self.appearance) if isinstance(app, QApplication)
                       else self.appearance.tokens)
        self._icons_drawn = False
        self.help_dialog: HelpDialog | None = None
        self.member_display = MemberDisplay()
        self._place_member_display()
        settings = ctx.core.settings
        self.idle = IdleWatcher(now=ctx.core.clock.monotonic,
                                member_idle_s=settings.member_idle_seconds,
                                warning_s=settings.member_warning_seconds,
                                staff_idle_s=settings.staff_idle_minutes * 60)
        self.timeout_warning = TimeoutWarning(self)
        if app is not None:
            app.installEventFilter(self.idle)
        self._leaving_confirmed = False
        self.kiosk_mode = False
        self.exit_dialog: StepUpDialog | None = None
        self.leaving_question: QMessageBox | None = None
        self._build_layout()
        self._connect_signals()
        self._apply_direction(current_language())  # a kiosk set up for Arabic starts mirrored
        self.retranslate_ui()
        self.visit.start(has_staff=staff_count(vault=ctx.core.vault) > 0)
        self._show_state()

    def _build_screens(self, ctx: ScreenContext) -> None:
        """Every screen, by the visit state that shows it."""
        self.enroll = EnrollScreen(ctx)
        self.sign_in = SignInScreen(ctx)
        self.welcome = WelcomeScreen(ctx)
        self.search = SearchScreen(ctx)
        self.member = MemberScreen(ctx)
        self.payment = PaymentScreen(ctx)
        self.receipt = ReceiptScreen(ctx)
        self.queue = QueueScreen(ctx)
        self.methods = MethodsScreen(ctx)
        self.history = HistoryScreen(ctx)
        self.disputes = DisputesScreen(ctx)
        self.autopay = AutopayScreen(ctx)
        self.coverage = CoverageScreen(ctx)
        self.profile = ProfileScreen(ctx)
        self.preferences = PreferencesScreen(ctx)
        # The member's own pages, in the order their buttons show on the member screen.
        self.pages: dict[VisitState, Any] = {
            VisitState.METHODS: self.methods,
            VisitState.PROFILE: self.profile,
            VisitState.PREFERENCES: self.preferences,
            VisitState.HISTORY: self.history,
            VisitState.DISPUTES: self.disputes,
            VisitState.AUTOPAY: self.autopay,
            VisitState.COVERAGE: self.coverage,
        }
        for page, (icon_meaning, words) in PAGE_BUTTONS.items():  # in the table's order
            if page in self.pages:
                self.member.add_page(page, icon_meaning, words)
        self.staff = StaffScreen(ctx)
        self.report = ReportScreen(ctx)
        self.screens: dict[VisitState, Screen] = {
            VisitState.FIRST_RUN: self.enroll,
            VisitState.SIGNED_OUT: self.sign_in,
            VisitState.WELCOME: self.welcome,
            VisitState.FIND_MEMBER: self.search,
            VisitState.MEMBER: self.member,
            VisitState.PAYING: self.payment,
            VisitState.RECEIPT: self.receipt,
            VisitState.QUEUE: self.queue,
            **self.pages,
            VisitState.STAFF: self.staff,
            VisitState.REPORT: self.report,
        }

    def _build_layout(self) -> None:
        """The header, the deadline banner and the screens stacked below them."""
        self.stack = QStackedWidget()
        for screen in self.screens.values():
            self.stack.addWidget(screen)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.header)
        column.addWidget(self.deadline_banner)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.setMinimumSize(1024, 700)

    def _connect_signals(self) -> None:
        self.bridge.sig_status_changed.connect(self._on_bridge_status_changed)
        self.header.sig_language_chosen.connect(self._on_header_language_chosen)
        self.header.sig_sign_out_requested.connect(self._on_header_sign_out_requested)
        self.header.sig_help_requested.connect(self._on_header_help_requested)
        self.header.sig_speech_requested.connect(self._on_header_speech_requested)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self.ctx.narrator.on_focus_changed)
        self.idle.sig_member_warning.connect(self._on_idle_member_warning)
        self.idle.sig_member_timeout.connect(self._on_idle_member_timeout)
        self.idle.sig_staff_timeout.connect(self._on_idle_staff_timeout)
        self.idle.sig_tick.connect(self._on_idle_tick)
        self.timeout_warning.sig_more_time.connect(self.idle.more_time)
        self.header.sig_appearance_chosen.connect(self._on_header_appearance_chosen)
        self.enroll.sig_enrolled.connect(self._on_enroll_enrolled)
        self.sign_in.sig_signed_in.connect(self._on_sign_in_signed_in)
        self.welcome.sig_language_chosen.connect(self._on_welcome_language_chosen)
        self.search.sig_member_chosen.connect(self._on_search_member_chosen)
        self.member.sig_pay_requested.connect(self._on_member_pay_requested)
        self.member.sig_back_requested.connect(self._on_back_requested)
        self.member.sig_page_requested.connect(self._on_member_page_requested)
        self.member.sig_member_language_chosen.connect(self._on_member_language_chosen)
        for screen in self.pages.values():
            screen.sig_back_requested.connect(self._on_back_requested)
        self.history.sig_dispute_requested.connect(self._on_history_dispute_requested)
        self.history.sig_dispute_shown.connect(self._on_history_dispute_shown)
        self.autopay.sig_methods_requested.connect(self._on_member_methods_requested)
        self.payment.sig_back_requested.connect(self._on_back_requested)
        self.payment.sig_payment_taken.connect(self._on_payment_payment_taken)
        self.receipt.sig_done.connect(self._on_receipt_done)
        self.receipt.sig_shown.connect(self.update_member_display)
        self.search.sig_queue_requested.connect(self._on_search_queue_requested)
        self.search.sig_report_requested.connect(self._on_search_report_requested)
        self.search.sig_staff_requested.connect(self._on_search_staff_requested)
        self.staff.sig_back_requested.connect(self._on_back_requested)
        self.queue.sig_back_requested.connect(self._on_back_requested)
        self.report.sig_back_requested.connect(self._on_back_requested)

    def retranslate_ui(self) -> None:
        self.setWindowTitle(_("Health Connector Kiosk"))
        self.header.retranslate_ui()
        for screen in self.screens.values():
            screen.retranslate_ui()

    def current_screen(self) -> Screen:
        return self.screens[self.visit.state]

    def _show_state(self) -> None:
        member_states = (VisitState.MEMBER, VisitState.PAYING, VisitState.RECEIPT,
                         *MEMBER_PAGES)
        starting = self.visit.state in member_states and not self.idle.member_active
        self.idle.member_active = self.visit.state in member_states
        self.idle.staff_active = self.ctx.session is not None
        if starting:
            self.idle.reset()
        screen = self.current_screen()
        self.stack.setCurrentWidget(screen)
        self.update_member_display()
        self.ctx.narrator.say(screen.heading.text())
        screen.on_shown()

    # -- slots ----------------------------------------------------------------------------
    def _on_bridge_status_changed(self, status: SyncStatus) -> None:
        self.header.show_status(status)
        self.waiting = status.waiting
        if self.visit.state is VisitState.RECEIPT:
            self.receipt.refresh()
        elif self.visit.state is VisitState.QUEUE:
            self.queue.refresh()
        self._check_deadlines()

    def _check_deadlines(self) -> None:
        """Warn on every screen when a waiting payment's deadline is within 24 hours."""
        core = self.ctx.core

        def urgent() -> list[QueueEntry]:
            now = core.clock.now()
            return [e for e in at_risk(vault=core.vault, now=now) if is_urgent(e, now)]

        self.ctx.runner.run(urgent, on_done=self._on_urgent_read, on_error=lambda _e: None)

    def _on_urgent_read(self, urgent: list[QueueEntry]) -> None:
        self.deadline_banner.setVisible(bool(urgent))
        if urgent:
            first = urgent[0]
            text = ngettext(
                "{n} waiting payment must reach the exchange by {date} or the member may lose "
                "coverage. Check the connection, then open Waiting payments and press Send now.",
                "{n} waiting payments must reach the exchange soon (the first by {date}) or "
                "members may lose coverage. Check the connection, then open Waiting payments "
                "and press Send now.", len(urgent)).format(
                n=len(urgent), date=format_date(first.deadline) if first.deadline else "")
            self.deadline_banner.setText(text)
            self.deadline_banner.setAccessibleName(text)

    def _ask_before_leaving(self, then: Callable[[], None]) -> None:
        """While payments wait, ask before signing out or closing: they are safe, but the
        kiosk must be left running (and online) for them to reach the exchange. The question
        is non-blocking; `then` runs when the navigator says yes."""
        if self.waiting == 0:
            then()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, _("Payments are waiting"), ngettext(
            "{n} payment has not reached the exchange yet. It is safe on this kiosk, but it is "
            "only sent while the kiosk is running and online. Continue?",
            "{n} payments have not reached the exchange yet. They are safe on this kiosk, but "
            "they are only sent while the kiosk is running and online. Continue?",
            self.waiting).format(n=self.waiting),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.accepted.connect(then)
        self.leaving_question = box
        box.open()

    def _close_confirmed(self) -> None:
        self._leaving_confirmed = True
        self.close()

    def _on_search_queue_requested(self) -> None:
        self.visit.open_tool(VisitState.QUEUE)
        self._show_state()

    def _on_search_staff_requested(self) -> None:
        self.visit.open_tool(VisitState.STAFF)
        self._show_state()

    def _on_search_report_requested(self) -> None:
        self.visit.open_tool(VisitState.REPORT)
        self._show_state()

    def _on_header_help_requested(self) -> None:
        member_states = (VisitState.WELCOME, VisitState.MEMBER, VisitState.PAYING,
                         VisitState.RECEIPT)
        language = (self.ctx.member_language if self.visit.state in member_states
                    else current_language())
        with in_language(language):
            self.help_dialog = HelpDialog(self)
        refresh_icons(self.help_dialog, text=self.tokens.text,
                      on_primary=self.tokens.on_primary)
        self.help_dialog.open()

    def _on_header_appearance_chosen(self, theme_name: str, scale: float) -> None:
        self.set_appearance(Appearance(theme=theme_name, scale=scale))

    def set_appearance(self, appearance: Appearance) -> None:
        """Apply a theme and text size to the whole application, at once."""
        self.appearance = appearance
        app = QApplication.instance()
        if isinstance(app, QApplication):
            self.tokens = theme.apply(app, appearance)
        self.draw_icons()

    def draw_icons(self) -> None:
        """Draw button icons in the theme's colours (deferred from start-up: the icon font
        is only loaded once the first screen is on display)."""
        tokens = self.tokens
        refresh_icons(self, text=tokens.text, on_primary=tokens.on_primary,
                      size_px=tokens.body_px,
                      right_to_left=self.layoutDirection() == Qt.LayoutDirection.RightToLeft)
        self.header.set_appearance(self.appearance.theme, self.appearance.scale, tokens.text)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._icons_drawn:
            self._icons_drawn = True
            QTimer.singleShot(0, self.draw_icons)

    def _on_header_language_chosen(self, code: str) -> None:
        """The navigator's language: every screen re-translated at once, what was typed kept,
        the layout mirrored for Arabic and Persian (direction from Babel's locale data)."""
        set_language(code)
        self._apply_direction(code)
        self.retranslate_ui()
        if self._icons_drawn:
            self.draw_icons()

    def _apply_direction(self, code: str) -> None:
        direction = _direction(code)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setLayoutDirection(direction)
        self.setLayoutDirection(direction)

    def _on_header_sign_out_requested(self) -> None:
        self._ask_before_leaving(self._sign_out)

    def _sign_out(self) -> None:
        self._forget_member()
        self.ctx.session = None
        self.header.set_staff("")
        self.visit.sign_out()
        self._show_state()

    def _on_enroll_enrolled(self) -> None:
        self.visit.staff_enrolled()
        self._show_state()

    def _on_sign_in_signed_in(self, session: StaffSession) -> None:
        self.ctx.session = session
        self.header.set_staff(session.display_name)
        self.visit.signed_in()
        self._show_state()

    def _place_member_display(self) -> None:
        """Show the member's display on the second screen, when there is one."""
        geometry = second_screen_geometry()
        if geometry is not None:
            self.member_display.setGeometry(geometry)  # type: ignore[arg-type]
            self.member_display.showFullScreen()

    def update_member_display(self, status: str = "") -> None:
        """What the member sees on their display for the current step (or `status`)."""
        language = self.ctx.member_language
        state = self.visit.state
        receipt = self.receipt.receipt if state is VisitState.RECEIPT else None
        if receipt is not None:
            confirmed = receipt.status is PaymentStatus.CONFIRMED
            view = MemberView(language=language, amount=receipt.amount,
                              method=f"{receipt.brand.title()} •••• {receipt.last4}",
                              status="confirmed" if confirmed else "pending")
        elif state is VisitState.PAYING and self.payment.account is not None:
            view = MemberView(language=language, status=status or "paying")
        else:
            view = MemberView(language=language, status="welcome")
        self.member_display.show_view(view)

    def _on_welcome_language_chosen(self, code: str) -> None:
        self.ctx.member_language = code
        self.visit.language_chosen()
        self._show_state()

    def _on_member_language_chosen(self, code: str) -> None:
        """The member's own language for what they read, sign and hear from now on."""
        self.ctx.member_language = code
        self.update_member_display()

    def _on_search_member_chosen(self, member_id: str) -> None:
        self.visit.member_chosen(member_id)
        self.member.clear()
        self.member.load(member_id)
        self._show_state()

    def _on_member_page_requested(self, page: VisitState) -> None:
        if self.visit.member_id:
            self.visit.open_member_page(page)
            self.pages[page].show_member(self.visit.member_id)
            self._show_state()

    def _on_history_dispute_requested(self, payment_id: str) -> None:
        """From the history: question this payment."""
        self._on_member_page_requested(VisitState.DISPUTES)
        self.disputes.preselect(payment_id)

    def _on_history_dispute_shown(self, dispute_id: str) -> None:
        """From the history: the dispute a payment is part of."""
        self._on_member_page_requested(VisitState.DISPUTES)
        self.disputes.select_dispute(dispute_id)

    def _on_member_methods_requested(self) -> None:
        self._on_member_page_requested(VisitState.METHODS)

    def _on_member_pay_requested(self, account: MemberAccount) -> None:
        self.visit.start_payment()
        self.payment.start(account)
        self._show_state()

    def _on_back_requested(self) -> None:
        was_paying = self.visit.state in (VisitState.PAYING, *MEMBER_PAGES)
        self.visit.back()
        if was_paying and self.visit.member_id:
            self.member.load(self.visit.member_id)
        elif self.visit.state is VisitState.FIND_MEMBER:
            self.member.clear()  # nothing of the member stays on a hidden screen
        self._show_state()

    def _on_payment_payment_taken(self, taken: PaymentTaken) -> None:
        self.visit.payment_taken(taken.payment_id)
        self.receipt.show_payment(taken.payment_id)
        self._show_state()

    def _on_receipt_done(self) -> None:
        self._forget_member()
        self.visit.finish()
        self._show_state()

    def _forget_member(self) -> None:
        """Wipe every trace of the member: screens, the clipboard, the visit's files."""
        self.search.reset()
        self.member.clear()
        for screen in self.pages.values():
            screen.clear()
        self.staff.clear()
        self.payment.account = None
        self.receipt.clear()
        self.timeout_warning.hide()
        self.ctx.narrator.set_enabled(False)  # the next member starts with a quiet kiosk
        self.ctx.member_language = "en"
        self.header.set_speech(False)
        clipboard = QApplication.clipboard()
        if clipboard is not None:
            clipboard.clear()
        shutil.rmtree(visit_folder(self.ctx.core.settings.data_dir), ignore_errors=True)

    def _on_idle_member_warning(self, seconds: int) -> None:
        if not self.timeout_warning.isVisible():
            self.ctx.narrator.say(self.timeout_warning.message.text())
        self.timeout_warning.show_seconds(seconds)

    def _on_header_speech_requested(self, command: str) -> None:
        narrator = self.ctx.narrator
        if command in ("on", "off"):
            narrator.set_enabled(command == "on")
            self.header.set_speech(narrator.enabled)
        elif command == "repeat":
            narrator.repeat()
        elif command == "stop":
            narrator.stop()
        else:
            narrator.change_volume(0.1 if command == "louder" else -0.1)

    def _on_idle_member_timeout(self) -> None:
        self._forget_member()
        self.visit.finish()
        self._show_state()

    def _on_idle_tick(self) -> None:
        """A staff session lasts at most 12 hours: then password and code again."""
        session = self.ctx.session
        if session is not None and not session_valid(session, self.ctx.core.clock.now()):
            self._sign_out()
            self.sign_in.show_error(message_for(AuthError(code="session_expired")),
                                    self.sign_in.password)

    def _on_idle_staff_timeout(self) -> None:
        """Lock: the member (if any) is wiped and the navigator signs in again."""
        self._sign_out()
        self.sign_in.show_locked()

    def enter_kiosk_mode(self) -> None:
        """Full screen, no window frame, and no way out without a supervisor."""
        self.kiosk_mode = True
        self.setWindowFlags(self.windowFlags() | Qt.WindowType.FramelessWindowHint
                            | Qt.WindowType.WindowStaysOnTopHint)
        self.showFullScreen()

    def _ask_supervisor_to_exit(self) -> None:
        dialog = StepUpDialog(self.ctx, title=_("Close the kiosk"), purpose="exit",
                              explanation=_("Only a supervisor can close the kiosk. Sign in "
                                            "to close it."))
        dialog.sig_approved.connect(lambda _session, _reason: self._close_confirmed())
        refresh_icons(dialog, text=self.tokens.text, on_primary=self.tokens.on_primary)
        self.exit_dialog = dialog
        dialog.open()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.kiosk_mode and not self._leaving_confirmed:
            event.ignore()
            self._ask_supervisor_to_exit()
            return
        if self.ctx.session is not None and self.waiting and not self._leaving_confirmed:
            event.ignore()
            self._ask_before_leaving(self._close_confirmed)
            return
        self.ctx.runner.wait_all()
        self.member_display.close()
        super().closeEvent(event)


def _direction(code: str) -> Qt.LayoutDirection:
    if is_right_to_left(code):
        return Qt.LayoutDirection.RightToLeft
    return Qt.LayoutDirection.LeftToRight
