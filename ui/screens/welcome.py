"""The start of every visit: the member chooses the language they read, from a list of
languages written in their own names (no flags: a flag is a country, not a language)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from kiosk.i18n import LANGUAGES, _, language_name
from ui.context import ScreenContext
from ui.screens.base import Screen, label
from ui.widgets.flow import FlowLayout


class WelcomeScreen(Screen):
    sig_language_chosen = Signal(str)
    """The member chose a language; carries its code."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.prompt = label()
        self.buttons: dict[str, QPushButton] = {}
        holder = QWidget()
        flow = FlowLayout(holder, spacing=16)
        for code in LANGUAGES:
            choice = QPushButton(language_name(code))
            choice.setProperty("role", "language")
            choice.setAccessibleName(language_name(code))
            choice.clicked.connect(lambda _c=False, c=code: self.sig_language_chosen.emit(c))
            # Screen readers must say each name in its own language.
            choice.setLocale(choice.locale().__class__(code))
            flow.addWidget(choice)
            self.buttons[code] = choice
        self.layout_.addWidget(self.prompt)
        self.layout_.addWidget(holder)
        self.layout_.addStretch(1)
        self.primary = self.buttons["en"]
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Welcome"))
        self.prompt.setText(_("Choose the language you read. The navigator can change it "
                              "at any time."))
        self.prompt.setAccessibleName(self.prompt.text())

    def on_shown(self) -> None:
        chosen = self.buttons.get(self.ctx.member_language) or self.buttons["en"]
        chosen.setFocus(Qt.FocusReason.OtherFocusReason)
