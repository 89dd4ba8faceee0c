"""The member's disputes about payments: each one's status and the exchange's messages; a form
to file a new one (reason, payments, amount, description, photos or PDFs); asking for a
supervisor's review. What is filed here shows as pending until the exchange confirms it, and
for a charge the member did not make the screen says by when to call the bank."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import cast

from PySide6.QtCore import QLocale, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QScrollArea,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.account import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    MIN_DESCRIPTION,
    DisputeReason,
    DisputeStatus,
    HistoryStatus,
    attachment_type,
)
from kiosk.domain.money import Money, parse_amount, total
from kiosk.errors import KioskError
from kiosk.i18n import N_, _, current_language, format_date, format_money, isolate
from kiosk.services.disputes import (
    AttachmentFile,
    Dispute,
    DisputeChanged,
    FileDispute,
    escalate_dispute,
    file_dispute,
    list_disputes,
)
from kiosk.services.history import HistoryEntry, payment_history
from kiosk.services.methods import ExchangeState
from kiosk.services.payments import PaymentContext
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit
from ui.screens.history import fit_rows, method_words, status_words, wrapping_table
from ui.widgets.flow import flow_row

REASON_WORDS = {
    DisputeReason.DUPLICATE_CHARGE: N_("Duplicate charge"),
    DisputeReason.WRONG_AMOUNT: N_("Wrong amount"),
    DisputeReason.NOT_CREDITED: N_("Payment not credited"),
    DisputeReason.UNAUTHORIZED: N_("Charge I did not make"),
    DisputeReason.OTHER: N_("Other"),
}
STATUS_WORDS = {
    DisputeStatus.PENDING: N_("Pending"), DisputeStatus.SUBMITTED: N_("Submitted"),
    DisputeStatus.UNDER_REVIEW: N_("Under review"), DisputeStatus.RESOLVED: N_("Resolved"),
    DisputeStatus.DENIED: N_("Denied"),
}
STATUS_MEANING = {
    DisputeStatus.PENDING: N_("Saved on this kiosk; it goes to the exchange as soon as the "
                              "connection allows."),
    DisputeStatus.SUBMITTED: N_("The exchange received it and will look into it."),
    DisputeStatus.UNDER_REVIEW: N_("The exchange is looking into it."),
    DisputeStatus.RESOLVED: N_("Decided for the member."),
    DisputeStatus.DENIED: N_("Decided against the member. The member can ask for a review by "
                             "a supervisor."),
}
FORM_LABELS = (N_("Reason"), N_("Payments it is about"), N_("Amount in question"),
               N_("What went wrong"), N_("Photos or PDF files"))
# The payments' tick boxes as large as the theme's check boxes; palette() follows the theme.
TICK_STYLE = ("QListWidget::indicator { width: 26px; height: 26px; border-radius: 4px;"
              " border: 3px solid palette(text); background: palette(base); }"
              " QListWidget::indicator:checked { background: palette(highlight); }")
SHOWN_NAME = 24  # characters of a file's name shown; the accessible name has all of it

Picked = tuple[list[AttachmentFile], Exception | None]


def read_attachments(paths: list[Path]) -> Picked:
    """The files' bytes, each checked as the service checks it (type by its first bytes, at
    most 10 MiB: a larger file is read only one byte past the limit); stops at the first
    file refused and returns its error beside the good ones."""
    files: list[AttachmentFile] = []
    for path in paths:
        try:
            with path.open("rb") as stream:
                content = stream.read(MAX_ATTACHMENT_BYTES + 1)
            attachment_type(content)
        except (KioskError, OSError) as error:
            return files, error
        files.append(AttachmentFile(filename=path.name, content=content))
    return files, None


def shown_name(filename: str) -> str:
    """A long file name shortened in the middle, so its start and its type still show."""
    if len(filename) <= SHOWN_NAME:
        return filename
    half = SHOWN_NAME // 2 - 1
    return f"{filename[:half]}…{filename[-half:]}"


def size_words(size: int) -> str:
    return QLocale(current_language()).formattedDataSize(
        size, 1, QLocale.DataSizeFormat.DataSizeTraditionalFormat)


def dispute_status(dispute: Dispute) -> str:
    words = _(STATUS_WORDS[dispute.status])
    if dispute.exchange_state is ExchangeState.NEEDS_ATTENTION:
        return _("{status} — the exchange refused the last change; call a supervisor").format(
            status=words)
    if dispute.exchange_state is ExchangeState.PENDING and dispute.status \
            is not DisputeStatus.PENDING:
        return _("{status} — review request waiting to be sent").format(status=words)
    return words


class DisputesScreen(Screen):
    sig_back_requested = Signal()
    """Back to where the navigator came from (the account or the payment history)."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.disputes: list[Dispute] = []
        self.payments: list[HistoryEntry] = []
        self.attachments: list[AttachmentFile] = []
        self._ticked: set[str] = set()  # payment ids, kept across re-reads
        self._select_id = ""  # the dispute to select once the list is read
        self._ticked_now: QListWidgetItem | None = None  # ticked during the current click
        self._forget_tick = QTimer(self)
        self._forget_tick.setSingleShot(True)
        self._forget_tick.setInterval(0)
        self._reads = 0  # only the latest read is drawn
        self.table = wrapping_table(4, fixed=(1, 2))  # the date and amount keep their width
        self.none_yet, self.detail, self.messages = label("muted"), label(), label()
        self.bank_note = label("banner")  # for a charge the member did not make
        self.bank_note.setTextFormat(Qt.TextFormat.RichText)
        self.note = line_edit()
        self.note_label = QLabel()
        self.escalate = button("problem")
        self.new_heading = label("heading")
        self.reason = QComboBox()
        for reason in DisputeReason:
            self.reason.addItem("", reason.value)
        self.payment_list = QListWidget()
        self.payment_list.setWordWrap(True)
        self.payment_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.payment_list.setStyleSheet(TICK_STYLE)
        self.amount = line_edit()
        self.description = QPlainTextEdit()
        self.description.setTabChangesFocus(True)
        self.description.setFixedHeight(150)
        self.counter = label("muted")
        self.attached = QWidget()  # one row per file: its name and size, and Remove
        self.attached_rows = QVBoxLayout(self.attached)
        self.attached_rows.setContentsMargins(0, 0, 0, 0)
        self.attach_note = label("muted")
        self.add_file = button("receipt")
        self.file = button("done", primary=True)
        self.filed = label("banner")
        self.filed.setTextFormat(Qt.TextFormat.RichText)
        self.back = button("back")
        self.primary, self.back_button = self.file, self.back
        self._form_labels = [QLabel() for _unused in FORM_LABELS]
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        escalation = QFormLayout()
        escalation.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.note_label.setBuddy(self.note)
        escalation.addRow(self.note_label, self.note)
        escalation.addRow(flow_row(self.escalate))
        self.escalation = QWidget()
        self.escalation.setLayout(escalation)
        escalation.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        fields = (self.reason, self.payment_list, self.amount, self.description, self.attached)
        for lab, field in zip(self._form_labels, fields, strict=True):
            lab.setBuddy(field)
            self.form.addRow(lab, field)
            if field is self.description:
                self.form.addRow(self.counter)
        self.form.addRow(self.attach_note)
        self.form.addRow(flow_row(self.add_file))
        for widget in (self.error, self.table, self.none_yet, self.detail, self.bank_note,
                       self.messages, self.escalation, self.new_heading):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(self.form)
        for widget in (flow_row(self.file), self.filed, flow_row(self.back)):
            self.layout_.addWidget(widget)
        for widget in (self.none_yet, self.bank_note, self.escalation, self.filed):
            widget.hide()

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.table.currentCellChanged.connect(lambda *_args: self._show_selected())
        self.payment_list.itemChanged.connect(self._on_payment_list_item_changed)
        self.payment_list.itemClicked.connect(self._on_payment_list_item_clicked)
        self._forget_tick.timeout.connect(self._on_forget_tick_timeout)
        self.description.textChanged.connect(self._count)
        self.add_file.clicked.connect(self._on_add_file_clicked)
        self.file.clicked.connect(self._on_file_clicked)
        self.escalate.clicked.connect(self._on_escalate_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Disputes"))
        self.table.setHorizontalHeaderLabels([_("Reason"), _("Filed"), _("Amount"),
                                              _("Status")])
        self.table.setAccessibleName(_("The member's disputes"))
        self.none_yet.setText(_("The member has no disputes yet."))
        self.note_label.setText(_("Why the member asks for a review"))
        self.note.setAccessibleName(self.note_label.text())
        self.new_heading.setText(_("File a new dispute"))
        for lab, words, field in zip(self._form_labels, FORM_LABELS, (
                self.reason, self.payment_list, self.amount, self.description, self.attached),
                strict=True):
            lab.setText(_(words))
            field.setAccessibleName(_(words))
        for index, reason in enumerate(DisputeReason):
            self.reason.setItemText(index, _(REASON_WORDS[reason]))
        self.attach_note.setText(_("A photo or PDF of a bank statement or receipt helps. Up to "
                                   "{most} files, each at most {megabytes} MB.").format(
            most=isolate(str(MAX_ATTACHMENTS)),
            megabytes=isolate(str(MAX_ATTACHMENT_BYTES // 2**20))))
        for widget, words, name in (
                (self.escalate, _("Ask for a review"),
                 _("Ask for a review of the chosen dispute by a supervisor")),
                (self.add_file, _("Add a file"), _("Add a photo or PDF file")),
                (self.file, _("File the dispute"), _("File the dispute with the exchange")),
                (self.back, _("Back"), _("Back"))):
            widget.setText(words)
            widget.setAccessibleName(name)
        self._count()
        self._remember_selection()
        self._render()

    def on_shown(self) -> None:
        self.reason.setFocus()  # filing is what the navigator most often comes here for

    # -- reading ----------------------------------------------------------------------------
    def show_member(self, member_id: str) -> None:
        self.clear()
        self.member_id = member_id
        self.refresh()

    def preselect(self, payment_id: str) -> None:
        """Tick this payment (and only it), e.g. when asked from the payment history."""
        self._ticked = {payment_id}
        self._render_payments()
        self._set_default_amount()

    def select_dispute(self, dispute_id: str) -> None:
        """Show this dispute's status and messages, now or once the list is read."""
        self._select_id = dispute_id
        self._render_disputes()

    def clear(self) -> None:
        """Forget the member (end of visit): nothing of theirs stays on the screen."""
        self.member_id, self.disputes, self.payments = "", [], []
        self._ticked, self._select_id, self.attachments = set(), "", []
        self._reads += 1  # a read still running is dropped when it arrives
        for field in (self.amount, self.note):
            field.clear()
        self.description.clear()
        self.reason.setCurrentIndex(0)
        self.filed.hide()
        self.clear_error()
        self._render()

    def refresh(self) -> None:
        """Re-read the disputes and payments off the UI thread (after a sync pass too)."""
        if not self.member_id:
            return
        vault, member = self.ctx.core.vault, self.member_id
        self._reads += 1
        read_id = self._reads

        def read() -> tuple[list[Dispute], list[HistoryEntry]]:
            return list_disputes(member, vault=vault), payment_history(member, vault=vault)

        self.ctx.runner.run(read, on_done=lambda found: self._on_read(read_id, found),
                            on_error=self.show_error)

    def _on_read(self, read_id: int, found: tuple[list[Dispute], list[HistoryEntry]]) -> None:
        if read_id != self._reads:
            return
        self._remember_selection()
        self.disputes = found[0]
        # A declined card is not a payment the exchange could look into.
        self.payments = [e for e in found[1] if e.status is not HistoryStatus.DECLINED]
        self._render()
        if not self.amount.text():  # ticked before the payments were read (`preselect`)
            self._set_default_amount()

    def _render(self) -> None:
        self._render_disputes()
        self._render_payments()
        self._render_attachments()

    def _render_disputes(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.disputes))
        for row, dispute in enumerate(self.disputes):
            for col, text in enumerate((_(REASON_WORDS[dispute.reason]),
                                        format_date(dispute.created_at.date()),
                                        format_money(dispute.amount), dispute_status(dispute))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        ids = [d.dispute_id for d in self.disputes]
        self.table.setCurrentCell(ids.index(self._select_id) if self._select_id in ids else -1, 0)
        self.table.blockSignals(False)
        if self._select_id in ids:
            self._select_id = ""
        fit_rows(self.table, most=6)
        self.table.setVisible(bool(self.disputes))
        self.none_yet.setVisible(bool(self.member_id) and not self.disputes)
        self._show_selected()

    def _remember_selection(self) -> None:
        """Keep the chosen dispute chosen when the rows are drawn again."""
        chosen = self.selected()
        if chosen is not None and not self._select_id:
            self._select_id = chosen.dispute_id

    def selected(self) -> Dispute | None:
        row = self.table.currentRow()
        return self.disputes[row] if 0 <= row < len(self.disputes) else None

    # -- the chosen dispute -----------------------------------------------------------------
    def _payment_line(self, payment_id: str) -> str:
        entry = next((e for e in self.payments if e.payment_id == payment_id), None)
        if entry is None:
            return _("A payment the kiosk does not list")
        return f"{format_date(entry.paid_at.date())} · {format_money(entry.amount)} · " \
               f"{method_words(entry)}"

    def _detail_text(self, d: Dispute) -> str:
        lines = [f"{dispute_status(d)}: {_(STATUS_MEANING[d.status])}"]
        if d.escalated:
            lines.append(_("A review by a supervisor was asked for."))
        lines += [_("About: {payment}").format(payment=self._payment_line(p))
                  for p in d.payment_ids]
        lines += [_("File: {name} ({size})").format(name=a.filename, size=size_words(a.size))
                  for a in d.attachments]
        lines.append(_("What went wrong: {text}").format(text=d.description))
        return "\n".join(lines)

    def _show_selected(self) -> None:
        d = self.selected()
        for widget in (self.detail, self.messages):
            widget.setVisible(d is not None)
        self.bank_note.setVisible(d is not None and d.bank.call_by is not None)
        self.escalation.setVisible(d is not None and not d.escalated
                                   and d.status is not DisputeStatus.RESOLVED)
        if d is None:
            return
        self._say(self.detail, self._detail_text(d))
        said = [_("{date}: {text}").format(date=format_date(m.at.date()), text=m.text)
                for m in d.messages]
        self._say(self.messages, "\n".join([_("Messages from the exchange:"), *said])
                  if said else _("No messages from the exchange yet."))
        if d.bank.call_by is not None:
            advice = self._bank_words(d.bank.call_by)
            self.bank_note.setText(f"<b>{html.escape(advice)}</b>")
            self.bank_note.setAccessibleName(advice)

    @staticmethod
    def _bank_words(call_by: dt.date) -> str:
        return _("Call your bank or card company by {date} and tell them you did not make this "
                 "charge. After that date the bank may not have to give the money back.").format(
            date=format_date(call_by))

    @staticmethod
    def _say(widget: QLabel, text: str) -> None:
        widget.setText(text)
        widget.setAccessibleName(text)

    # -- the new dispute --------------------------------------------------------------------
    def _render_payments(self) -> None:
        self.payment_list.blockSignals(True)
        self.payment_list.clear()
        for entry in self.payments:
            text = f"{format_date(entry.paid_at.date())} · {format_money(entry.amount)} · " \
                   f"{method_words(entry)} · {status_words(entry)}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, entry.payment_id)
            if entry.dispute_ids:  # an open dispute covers it already
                item.setText(_("{payment} (already in a dispute)").format(payment=text))
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            else:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if entry.payment_id in self._ticked
                                   else Qt.CheckState.Unchecked)
            self.payment_list.addItem(item)
        self.payment_list.setMinimumHeight(60 * min(max(len(self.payments), 2), 6))
        self.payment_list.blockSignals(False)

    def checked_ids(self) -> list[str]:
        items = (self.payment_list.item(i) for i in range(self.payment_list.count()))
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def _on_payment_list_item_clicked(self, item: QListWidgetItem) -> None:
        """A tap anywhere on the row ticks it, not only on its small box; a tap on the box Qt
        has already handled in this same click."""
        checkable = bool(item.flags() & Qt.ItemFlag.ItemIsUserCheckable)
        if checkable and self._ticked_now is not item:
            item.setCheckState(Qt.CheckState.Unchecked if item.checkState()
                               == Qt.CheckState.Checked else Qt.CheckState.Checked)

    def _on_forget_tick_timeout(self) -> None:
        self._ticked_now = None

    def _on_payment_list_item_changed(self, item: QListWidgetItem) -> None:
        self._ticked_now = item
        self._forget_tick.start()  # after this click
        self._ticked = set(self.checked_ids())
        self._set_default_amount()

    def _set_default_amount(self) -> None:
        """The amount follows the chosen payments' total; the navigator may lower it."""
        chosen = [e.amount for e in self.payments if e.payment_id in self._ticked]
        self.amount.setText(f"{total(chosen).as_decimal():.2f}" if chosen else "")

    def _count(self) -> None:
        self.counter.setText(_("{count} of {most} characters, at least {least}").format(
            count=isolate(str(len(self.description.toPlainText().strip()))),
            most=isolate(str(MAX_DESCRIPTION)), least=isolate(str(MIN_DESCRIPTION))))
        self.counter.setAccessibleName(self.counter.text())

    def _render_attachments(self) -> None:
        while (item := self.attached_rows.takeAt(0)) is not None:
            if (old := item.widget()) is not None:
                old.hide()
                old.deleteLater()
        for index, attachment in enumerate(self.attachments):
            name = QLabel(_("{name} ({size})").format(name=shown_name(attachment.filename),
                                                      size=size_words(len(attachment.content))))
            name.setAccessibleName(attachment.filename)
            remove = button("delete")
            remove.setText(_("Remove"))
            remove.setAccessibleName(_("Remove {name}").format(name=attachment.filename))
            remove.clicked.connect(lambda _checked=False, i=index: self._remove_attachment(i))
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(name)
            line.addWidget(remove)
            line.addStretch(1)
            self.attached_rows.addWidget(row)
        if not self.attachments:
            nothing = label()
            nothing.setText(_("No files added."))
            self.attached_rows.addWidget(nothing)

    def _remove_attachment(self, index: int) -> None:
        del self.attachments[index]
        self._render_attachments()
        self.add_file.setFocus()

    def _pick_files(self) -> list[Path]:
        """Ask which files to add (tests replace this method on the instance)."""
        names, _chosen = QFileDialog.getOpenFileNames(
            self, _("Add a file"), str(Path.home()),
            _("Photos and PDF files (*.pdf *.jpg *.jpeg *.png *.heic)"))
        return [Path(name) for name in names]

    def _on_add_file_clicked(self) -> None:
        paths = self._pick_files()
        if paths:
            self.clear_error()
            self.ctx.runner.run(lambda: read_attachments(paths), on_done=self._on_files_read,
                                on_error=self.show_error)

    def _on_files_read(self, picked: Picked) -> None:
        files, error = picked
        self.attachments += files
        self._render_attachments()
        if isinstance(error, OSError):
            self._attachment_problem(_("That file could not be read. Choose another one."))
        elif error is not None:
            self._attachment_problem(error)

    def _attachment_problem(self, error: Exception | str) -> None:
        """The message goes right under the list of files; focus stays on "Add a file"."""
        self.show_error(error, self.attached)
        self.add_file.setFocus()

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def _on_file_clicked(self) -> None:
        self.clear_error()
        self.filed.hide()
        try:
            text = self.amount.text().strip()
            amount = parse_amount(text) if text else Money.zero()  # the service says why
        except KioskError as error:
            self.show_error(error, self.amount)
            return
        cmd = FileDispute(member_id=self.member_id, payment_ids=tuple(self.checked_ids()),
                          reason=DisputeReason(self.reason.currentData()), amount=amount,
                          description=self.description.toPlainText(),
                          attachments=tuple(self.attachments))
        core, pay_ctx = self.ctx.core, self._context()
        self.ctx.runner.run(
            lambda: file_dispute(cmd, ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=self._on_filed, on_error=self._on_file_failed)

    def _on_file_failed(self, error: Exception) -> None:
        by_field = {"payment_ids": self.payment_list, "description": self.description,
                    "amount": self.amount}
        code, field = getattr(error, "code", ""), getattr(error, "field", "")
        if field == "attachments":
            self._attachment_problem(error)
            return
        widget = by_field.get(field) or (
            self.payment_list if code in ("payment_unknown", "payment_already_disputed")
            else None)
        self.show_error(error, widget)

    def _on_filed(self, changed: DisputeChanged) -> None:
        self._ticked, self.attachments = set(), []
        self.description.clear()
        self.amount.clear()
        saved = _("The dispute is saved. It shows as pending until the exchange confirms it "
                  "has it.")
        bank = self._bank_words(changed.bank.call_by) if changed.bank.call_by else ""
        self.filed.setText(f"<p>{html.escape(saved)}</p>"
                           + (f"<p><b>{html.escape(bank)}</b></p>" if bank else ""))
        self.filed.setAccessibleName(f"{saved} {bank}".strip())
        self.filed.show()
        self._select_id = changed.dispute_id
        self.ctx.nudge_sync()
        self.refresh()
        cast(QScrollArea, self.scroll).ensureWidgetVisible(self.filed)

    def _on_escalate_clicked(self) -> None:
        dispute = self.selected()
        if dispute is None:
            return
        self.clear_error()
        core, pay_ctx, note = self.ctx.core, self._context(), self.note.text()
        self.ctx.runner.run(
            lambda: escalate_dispute(dispute.dispute_id, note=note, ctx=pay_ctx,
                                     vault=core.vault, clock=core.clock),
            on_done=self._on_escalated, on_error=lambda error: self.show_error(error, self.note))

    def _on_escalated(self, changed: DisputeChanged) -> None:
        self.note.clear()
        self._select_id = changed.dispute_id
        self.ctx.nudge_sync()
        self.refresh()
