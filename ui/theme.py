"""Design tokens (colours, type sizes, spacing) and the stylesheet built from them.

Large type is the default: body text is 22 px, well above the 20 px floor, because many members
read the screen from a chair across the counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True, slots=True, kw_only=True)
class Tokens:
    text: str = "#1a1a1a"
    text_muted: str = "#4a4a4a"
    background: str = "#ffffff"
    surface: str = "#f2f4f7"
    primary: str = "#0b4f8a"
    on_primary: str = "#ffffff"
    danger: str = "#9b1c1c"
    success: str = "#1d5e2e"
    warning_bg: str = "#fff4ce"
    border: str = "#6b6b6b"
    focus: str = "#c2410c"
    body_px: int = 22
    small_px: int = 20
    heading_px: int = 32
    spacing_px: int = 12
    radius_px: int = 8
    target_px: int = 48


STANDARD = Tokens()
FONT_FAMILY = "Atkinson Hyperlegible"


def load_fonts() -> str:
    """Register the bundled Atkinson Hyperlegible faces; returns the family to use."""
    try:
        import fontpkg_atkinson_hyperlegible as pkg
    except ImportError:  # pragma: no cover - the font is a declared dependency
        return QApplication.font().family()
    for path in sorted(Path(pkg.ROOT, "files").glob("*.ttf")):
        QFontDatabase.addApplicationFont(str(path))
    return FONT_FAMILY


def stylesheet(t: Tokens = STANDARD) -> str:
    """The application stylesheet, from the tokens alone."""
    return f"""
    QWidget {{ color: {t.text}; background: {t.background}; font-size: {t.body_px}px; }}
    QLabel[role="heading"] {{ font-size: {t.heading_px}px; font-weight: bold; }}
    QLabel[role="muted"] {{ color: {t.text_muted}; font-size: {t.small_px}px; }}
    QLabel[role="error"] {{ color: {t.danger}; font-weight: bold; }}
    QLabel[role="banner"] {{ background: {t.warning_bg}; padding: {t.spacing_px}px;
        border: 1px solid {t.border}; border-radius: {t.radius_px}px; }}
    QLabel[role="status-ok"] {{ color: {t.success}; font-weight: bold; }}
    QLabel[role="status-pending"] {{ color: {t.text}; background: {t.warning_bg};
        padding: 4px 8px; font-weight: bold; }}
    QFrame#header {{ background: {t.surface}; border-bottom: 2px solid {t.border}; }}
    QFrame#header QLabel {{ background: {t.surface}; }}
    QFrame#header QLabel[role="muted"] {{ color: {t.text_muted}; }}
    QPushButton {{ min-height: {t.target_px}px; min-width: {t.target_px}px;
        padding: 4px 18px 4px 14px; border: 2px solid {t.border}; border-radius: {t.radius_px}px;
        background: {t.surface}; }}
    QPushButton[role="primary"] {{ background: {t.primary}; color: {t.on_primary};
        border-color: {t.primary}; font-weight: bold; }}
    QPushButton:disabled, QPushButton[role="primary"]:disabled {{ color: {t.text_muted};
        background: {t.surface}; border: 2px dashed {t.border}; }}
    QPushButton:focus, QLineEdit:focus, QComboBox:focus, QListWidget:focus,
    QTableWidget:focus, QRadioButton:focus {{ outline: none; border: 3px solid {t.focus}; }}
    QLineEdit, QComboBox {{ min-height: {t.target_px}px; padding: 2px 10px;
        border: 2px solid {t.border}; border-radius: {t.radius_px}px; }}
    QRadioButton {{ min-height: {t.target_px}px; }}
    QRadioButton::indicator {{ width: 28px; height: 28px; }}
    QListWidget, QTableWidget {{ border: 2px solid {t.border}; }}
    QTableWidget::item {{ padding: 4px 10px; }}
    QListWidget::item {{ min-height: {t.target_px}px; padding: 6px; }}
    QListWidget::item:selected, QTableWidget::item:selected {{
        background: {t.primary}; color: {t.on_primary}; }}
    QHeaderView::section {{ background: {t.surface}; font-weight: bold; padding: 6px;
        border: 1px solid {t.border}; }}
    """


def apply(app: QApplication, t: Tokens = STANDARD) -> None:
    family = load_fonts()
    font = QFont(family)
    font.setPixelSize(t.body_px)
    app.setFont(font)
    app.setStyleSheet(stylesheet(t))
