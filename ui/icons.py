"""Every icon the kiosk shows, by meaning, mapped to a qtawesome name in one table."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QAbstractButton, QWidget

ICONS: dict[str, str] = {
    "sign_in": "fa6s.right-to-bracket",
    "sign_out": "fa6s.right-from-bracket",
    "search": "fa6s.magnifying-glass",
    "member": "fa6s.user",
    "pay": "fa6s.credit-card",
    "receipt": "fa6s.receipt",
    "print": "fa6s.print",
    "back": "fa6s.arrow-left",
    "done": "fa6s.check",
    "online": "fa6s.circle-check",
    "offline": "fa6s.plug-circle-xmark",
    "syncing": "fa6s.arrows-rotate",
    "problem": "fa6s.triangle-exclamation",
    "language": "fa6s.language",
    "enroll": "fa6s.user-plus",
    "help": "fa6s.circle-question",
    "delete": "fa6s.delete-left",
    "display": "fa6s.text-height",
    "send": "fa6s.paper-plane",
    "history": "fa6s.clock-rotate-left",
    "coverage": "fa6s.shield-heart",
    "contact": "fa6s.address-card",
    "messages": "fa6s.bell",
    "autopay": "fa6s.calendar-check",
    "dispute": "fa6s.scale-balanced",
}


# Icons that point along the reading direction; drawn mirrored in right-to-left languages.
DIRECTIONAL = frozenset({"back", "sign_in", "sign_out", "delete"})


def icon(meaning: str, color: str = "#1a1a1a", *, right_to_left: bool = False) -> QIcon:
    """The icon for a meaning. qtawesome (and its fonts) load on first use, not at start-up."""
    import qtawesome

    flip = right_to_left and meaning in DIRECTIONAL
    return qtawesome.icon(ICONS[meaning], color=color, hflip=flip)


def refresh_icons(root: QWidget, *, text: str, on_primary: str, size_px: int = 22,
                  right_to_left: bool = False) -> None:
    """Draw every button's icon (named by its `icon_meaning` property) in the theme's colours
    and at the text's size. Called after the first screen is shown and on theme changes."""
    for widget in root.findChildren(QAbstractButton):
        meaning = widget.property("icon_meaning")
        if meaning:
            primary = widget.property("role") == "primary"
            widget.setIcon(icon(str(meaning), on_primary if primary else text,
                                right_to_left=right_to_left))
            widget.setIconSize(QSize(size_px, size_px))
