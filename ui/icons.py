"""Every icon the kiosk shows, by meaning, mapped to a qtawesome name in one table."""

from __future__ import annotations

from PySide6.QtGui import QIcon

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
}


def icon(meaning: str, color: str = "#1a1a1a") -> QIcon:
    """The icon for a meaning. qtawesome (and its fonts) load on first use, not at start-up."""
    import qtawesome

    return qtawesome.icon(ICONS[meaning], color=color)
