"""Speech mode: the screen's heading, the control in focus and every error read aloud, with
repeat, stop and volume (Section 508 §402.2: speech output that can be repeated and stopped).

It uses QTextToSpeech (from PySide6-Addons, the optional `speech` extra) when a speech engine
is installed and stays silent otherwise: the rest of the kiosk never depends on it. It turns
itself off at the end of every visit, so the next member starts with a quiet kiosk.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QWidget

from kiosk.i18n import N_, _

log = logging.getLogger(__name__)
HISTORY = 50


def _engine() -> Any | None:
    """A QTextToSpeech with a working engine, or None when speech is not available here."""
    try:
        from PySide6.QtTextToSpeech import QTextToSpeech
    except ImportError as exc:  # the extra is not installed, or its system libraries are not
        log.info("speech unavailable: %s", exc)
        return None
    if not QTextToSpeech.availableEngines():
        log.info("speech unavailable: no speech engine installed")
        return None
    return QTextToSpeech()


class Narrator(QObject):
    """Says things when speech mode is on. `said` keeps what was spoken, newest last."""

    def __init__(self) -> None:
        super().__init__()
        self.enabled = False
        self.volume = 0.8
        self.said: deque[str] = deque(maxlen=HISTORY)
        self._engine: Any | None = None
        self._engine_tried = False

    @property
    def available(self) -> bool:
        """Whether a speech engine is installed (speech mode is silent without one)."""
        return self._get_engine() is not None

    def _get_engine(self) -> Any | None:
        if not self._engine_tried:
            self._engine_tried = True
            self._engine = _engine()
            if self._engine is not None:
                self._engine.setVolume(self.volume)
        return self._engine

    def set_enabled(self, enabled: bool) -> None:
        if not enabled:
            self.stop()
        self.enabled = enabled
        if enabled:
            self.say(_("Speech is on."))

    def say(self, text: str) -> None:
        """Speak `text` now, interrupting what was being said."""
        text = " ".join(text.split())
        if not self.enabled or not text:
            return
        self.said.append(text)
        engine = self._get_engine()
        if engine is not None:
            engine.stop()
            engine.say(text)

    def repeat(self) -> None:
        if self.said:
            self.say(self.said[-1])

    def stop(self) -> None:
        engine = self._engine
        if engine is not None:
            engine.stop()

    def change_volume(self, step: float) -> None:
        self.volume = min(1.0, max(0.1, self.volume + step))
        if self._engine is not None:
            self._engine.setVolume(self.volume)
        self.say(_("Volume {percent}%").format(percent=round(self.volume * 100)))

    def on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Read the control that just got the focus: its name, and what kind of control."""
        if not self.enabled or new is None:
            return
        interface = QAccessible.queryAccessibleInterface(new)
        if interface is None:
            return
        name = interface.text(QAccessible.Text.Name)
        kind = _ROLE_WORDS.get(interface.role())
        self.say(f"{name}, {_(kind)}" if kind else name)


_ROLE_WORDS = {
    QAccessible.Role.Button: N_("button"),
    QAccessible.Role.EditableText: N_("text field"),
    QAccessible.Role.ComboBox: N_("list to choose from"),
    QAccessible.Role.RadioButton: N_("choice"),
    QAccessible.Role.CheckBox: N_("check box"),
    QAccessible.Role.List: N_("list"),
    QAccessible.Role.Table: N_("table"),
}
