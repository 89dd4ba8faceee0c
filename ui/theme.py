"""Design tokens (colours, type sizes, spacing) and the stylesheet built from them.

Three themes: standard, high contrast light and high contrast dark. Every text colour reaches
at least 7:1 against the backgrounds it is drawn on and every other visible part 3:1
(`tests/test_theme.py` checks each pair). Sizes are given at 100% and multiplied by the
text-size setting (100% to 200%). Large type is the default: body text is 22 px, above the
20 px floor, because many members read the screen from a chair across the counter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

TEXT_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tokens:
    name: str
    text: str
    text_muted: str  # secondary text, placeholders and disabled text
    background: str
    surface: str  # header, buttons, table headings
    primary: str
    on_primary: str
    danger: str
    success: str
    warning_bg: str  # banners
    border: str
    focus: str  # the focus ring, replacing a control's border
    focus_on_primary: str  # the focus ring of primary buttons, replacing their fill colour
    body_px: int = 22
    small_px: int = 20
    heading_px: int = 32
    spacing_px: int = 12
    radius_px: int = 8
    target_px: int = 48
    focus_px: int = 3

    def scaled(self, factor: float) -> Tokens:
        """The same theme with every size multiplied (the text-size setting)."""
        return replace(self, body_px=round(self.body_px * factor),
                       small_px=round(self.small_px * factor),
                       heading_px=round(self.heading_px * factor),
                       target_px=round(self.target_px * max(1.0, factor * 0.85)))


STANDARD = Tokens(
    name="standard", text="#1a1a1a", text_muted="#474747", background="#ffffff",
    surface="#eef1f5", primary="#0b4f8a", on_primary="#ffffff", danger="#8f1a1a",
    success="#1b5a2b", warning_bg="#fff4ce", border="#8a8a8a", focus="#14307f",
    focus_on_primary="#ffd84d")
HIGH_CONTRAST_LIGHT = Tokens(
    name="contrast-light", text="#000000", text_muted="#2b2b2b", background="#ffffff",
    surface="#ffffff", primary="#000000", on_primary="#ffffff", danger="#7a0000",
    success="#004d00", warning_bg="#ffffff", border="#000000", focus="#0055ff",
    focus_on_primary="#ffd84d")
HIGH_CONTRAST_DARK = Tokens(
    name="contrast-dark", text="#ffffff", text_muted="#e6e6e6", background="#000000",
    surface="#000000", primary="#ffff00", on_primary="#000000", danger="#ff9e9e",
    success="#8cff8c", warning_bg="#000000", border="#ffffff", focus="#e0560f",
    focus_on_primary="#e0560f")
THEMES = {t.name: t for t in (STANDARD, HIGH_CONTRAST_LIGHT, HIGH_CONTRAST_DARK)}

FONT_FAMILY = "Atkinson Hyperlegible"
# Drawn when Atkinson Hyperlegible lacks a character: Vietnamese and Cyrillic (Noto Sans),
# Arabic and Persian (Noto Sans Arabic), Chinese, Japanese and Korean (Noto Sans CJK).
FALLBACK_FAMILIES = ("Noto Sans", "Noto Sans Arabic", "Noto Sans CJK TC")


def _font_files() -> list[Path]:
    files: list[Path] = []
    for module, pattern in (("fontpkg_atkinson_hyperlegible", "files/*.ttf"),
                            ("fontpkg_noto_sans", "files/*.ttf"),
                            ("fontpkg_noto_sans_arabic", "files/*.ttf"),
                            ("cvttf_NotoSansCJK_Regular", "*.otf")):
        try:
            package = __import__(module)
        except ImportError:  # pragma: no cover - all are declared dependencies
            continue
        files += sorted(Path(package.__file__).parent.glob(pattern))
    return files


@cache
def load_fonts() -> tuple[str, ...]:
    """Register the bundled fonts once; returns the families in the order text uses them."""
    for path in _font_files():
        QFontDatabase.addApplicationFont(str(path))
    known = set(QFontDatabase.families())
    return tuple(f for f in (FONT_FAMILY, *FALLBACK_FAMILIES) if f in known)


def stylesheet(t: Tokens) -> str:
    """The application stylesheet, from the tokens alone."""
    return f"""
    QWidget {{ color: {t.text}; background: {t.background}; font-size: {t.body_px}px; }}
    QLabel[role="heading"] {{ font-size: {t.heading_px}px; font-weight: bold; }}
    QLabel[role="muted"] {{ color: {t.text_muted}; font-size: {t.small_px}px; }}
    QLabel[role="error"] {{ color: {t.danger}; font-weight: bold;
        border-left: 6px solid {t.danger}; padding-left: 10px; }}
    QLabel[role="banner"] {{ background: {t.warning_bg}; padding: {t.spacing_px}px;
        border: 2px solid {t.border}; border-radius: {t.radius_px}px; }}
    QLabel[role="status-ok"] {{ color: {t.success}; font-weight: bold; }}
    QLabel[role="status-pending"] {{ color: {t.text}; background: {t.warning_bg};
        border: 1px solid {t.border}; padding: 4px 8px; font-weight: bold; }}
    QFrame#header {{ background: {t.surface}; border-bottom: 2px solid {t.border}; }}
    QFrame#header QWidget {{ background: {t.surface}; }}
    QFrame#header QLabel[role="muted"] {{ color: {t.text_muted}; }}
    QPushButton {{ min-height: {t.target_px}px; min-width: {t.target_px}px;
        padding: 4px 18px 4px 14px; border: 2px solid {t.border};
        border-radius: {t.radius_px}px; background: {t.surface}; color: {t.text}; }}
    QPushButton[role="primary"] {{ background: {t.primary}; color: {t.on_primary};
        border-color: {t.primary}; font-weight: bold; }}
    QPushButton:disabled, QPushButton[role="primary"]:disabled {{ color: {t.text_muted};
        background: {t.background}; border: 2px dashed {t.border}; }}
    QPushButton:focus, QLineEdit:focus, QComboBox:focus, QListWidget:focus,
    QTableWidget:focus, QRadioButton:focus, QCheckBox:focus, QDateEdit:focus, QSpinBox:focus,
    QAbstractButton:focus {{ outline: none; border: {t.focus_px}px solid {t.focus}; }}
    QPushButton[role="language"] {{ min-width: {t.target_px * 4}px;
        min-height: {round(t.target_px * 1.5)}px; font-size: {t.heading_px}px; }}
    QPushButton[role="primary"]:focus {{ border: {t.focus_px}px solid {t.focus_on_primary}; }}
    QLineEdit, QComboBox, QDateEdit, QSpinBox {{ min-height: {t.target_px}px;
        padding: 2px 10px;
        border: 2px solid {t.border}; border-radius: {t.radius_px}px;
        background: {t.background}; color: {t.text}; }}
    QLineEdit:focus, QComboBox:focus, QDateEdit:focus, QSpinBox:focus {{
        padding: {max(0, 4 - t.focus_px)}px {max(0, 12 - t.focus_px)}px; }}
    QRadioButton, QCheckBox {{ min-height: {t.target_px}px; }}
    QRadioButton::indicator, QCheckBox::indicator {{ width: 24px; height: 24px;
        border: 3px solid {t.border}; background: {t.background}; }}
    QRadioButton::indicator {{ border-radius: 15px; }}
    QCheckBox::indicator {{ border-radius: 4px; }}
    QRadioButton::indicator:checked, QCheckBox::indicator:checked {{
        background: {t.primary}; border: 3px solid {t.text}; }}
    QListWidget, QTableWidget {{ border: 2px solid {t.border}; }}
    QTableWidget::item {{ padding: 4px 10px; }}
    QListWidget::item {{ min-height: {t.target_px}px; padding: 6px; }}
    QListWidget::item:selected, QTableWidget::item:selected {{
        background: {t.primary}; color: {t.on_primary}; }}
    QHeaderView::section {{ background: {t.surface}; color: {t.text}; font-weight: bold;
        padding: 6px; border: 1px solid {t.border}; }}
    QScrollArea {{ border: none; }}
    QMenu {{ border: 2px solid {t.border}; }}
    QMenu::item {{ padding: 10px 24px; }}
    QMenu::item:selected {{ background: {t.primary}; color: {t.on_primary}; }}
    """


def palette(t: Tokens) -> QPalette:
    """Colours the stylesheet cannot reach (placeholders, selections in native parts)."""
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: t.background, QPalette.ColorRole.Base: t.background,
        QPalette.ColorRole.Text: t.text, QPalette.ColorRole.WindowText: t.text,
        QPalette.ColorRole.ButtonText: t.text, QPalette.ColorRole.Button: t.surface,
        QPalette.ColorRole.PlaceholderText: t.text_muted,
        QPalette.ColorRole.Highlight: t.primary, QPalette.ColorRole.HighlightedText: t.on_primary,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    return pal


@dataclass(slots=True)
class Appearance:
    """The current theme and text size, applied to the whole application."""

    theme: str = STANDARD.name
    scale: float = 1.0

    @property
    def tokens(self) -> Tokens:
        return THEMES[self.theme].scaled(self.scale)


def apply(app: QApplication, appearance: Appearance | None = None) -> Tokens:
    """Apply fonts, palette and stylesheet; returns the tokens in effect."""
    tokens = (appearance or Appearance()).tokens
    families = load_fonts()
    font = QFont()
    font.setFamilies(list(families) or [app.font().family()])
    font.setPixelSize(tokens.body_px)
    sheet = stylesheet(tokens)
    if app.styleSheet() == sheet and app.font() == font:
        return tokens  # already in effect: re-applying re-polishes every widget (0.1 s)
    app.setFont(font)
    app.setPalette(palette(tokens))
    app.setStyleSheet(sheet)
    return tokens
