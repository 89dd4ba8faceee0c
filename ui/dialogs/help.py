"""Get help: a short FAQ and step-by-step guides for the common tasks, reachable from the
header of every screen. Shown in the member's language while a member is at the counter."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import N_, _
from ui.screens.base import button, label

# (topic, text). Steps are numbered lines; each text is one translatable message.
TOPICS: tuple[tuple[str, str], ...] = (
    (N_("What does “pending” mean?"), N_(
        "Pending means the payment is taken and saved on this kiosk, but the exchange has not "
        "confirmed it yet. The kiosk sends it on its own, at once or as soon as the connection "
        "returns. Your receipt says Confirmed, with a confirmation number, once the exchange "
        "has it. A pending payment already counts toward what you owe.")),
    (N_("Paying at the counter"), N_(
        "1. Tell the navigator your name, member ID, date of birth or phone number.\n"
        "2. Check the amount the screen shows; you may pay the balance or another amount.\n"
        "3. Insert, tap or swipe your card on the card reader, or tap your phone.\n"
        "4. Take your receipt. Keep it until the payment shows as confirmed.")),
    (N_("Setting up automatic payments"), N_(
        "1. Ask the navigator to open Automatic payments.\n"
        "2. Choose a saved card or bank account, or add one.\n"
        "3. Choose the day: the due date, or a day of the month you prefer.\n"
        "4. Choose the full amount due or a fixed amount, then confirm.\n"
        "You can change, pause or cancel automatic payments at any time.")),
    (N_("Reading the payment history"), N_(
        "Each line is one payment: the date, the amount, how you paid and its status. "
        "Pending: taken here, not yet confirmed. Submitted: a bank payment on its way. "
        "Confirmed: the exchange has it. Declined: the card was refused and nothing was taken. "
        "Returned: the bank sent it back; the line says why and what to do. Refunded: the "
        "money went back to you. Disputed: a question about it is open with the exchange. "
        "Choose a line to see its details, or to question it.")),
    (N_("Filing a dispute"), N_(
        "1. Ask the navigator to open the payment history and choose the payment.\n"
        "2. Choose what happened: charged twice, wrong amount, not credited, a charge you did "
        "not make, or something else.\n"
        "3. Describe it and add a photo or PDF of your statement if you have one.\n"
        "4. The exchange reviews it; the navigator can show you its status at any visit.\n"
        "If a charge was not made by you, also call your bank today.")),
    (N_("Larger text, contrast and speech"), N_(
        "Press Display at the top of the screen to make the text larger (up to twice the "
        "size), to choose high contrast colours, or to have the screen read aloud. "
        "Everything also works with the keyboard: Tab moves, Enter chooses, Escape goes "
        "back.")),
    (N_("When the connection is down"), N_(
        "You can still pay. Your payment is saved safely on this kiosk and sent to the "
        "exchange as soon as the connection returns; your receipt shows it as pending until "
        "then. Very large payments may need a supervisor while the connection is down.")),
)


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.heading = label("heading")
        self.topics = QListWidget()
        self.text = label()
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.close_button = button("done", primary=True)
        row = QHBoxLayout()
        row.addWidget(self.topics, 2)
        row.addWidget(self.text, 3, Qt.AlignmentFlag.AlignTop)
        column = QVBoxLayout(self)
        column.addWidget(self.heading)
        column.addLayout(row)
        column.addWidget(self.close_button, alignment=Qt.AlignmentFlag.AlignRight)
        for _topic in TOPICS:
            self.topics.addItem(QListWidgetItem())
        self.topics.currentRowChanged.connect(self._on_topics_current_row_changed)
        self.close_button.clicked.connect(self.accept)
        self.retranslate_ui()
        self.topics.setCurrentRow(0)
        self.resize(980, 620)

    def retranslate_ui(self) -> None:
        self.setWindowTitle(_("Get help"))
        self.heading.setText(_("Get help"))
        self.topics.setAccessibleName(_("Help topics"))
        for row, (topic, _text) in enumerate(TOPICS):
            self.topics.item(row).setText(_(topic))
        self._on_topics_current_row_changed(self.topics.currentRow())
        self.close_button.setText(_("Close"))
        self.close_button.setAccessibleName(_("Close help"))

    def _on_topics_current_row_changed(self, row: int) -> None:
        text = _(TOPICS[row][1]) if 0 <= row < len(TOPICS) else ""
        self.text.setText(text)
        self.text.setAccessibleName(text)
