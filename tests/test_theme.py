"""Every theme meets the contrast the kiosk promises: text at least 7:1 against every
background it is drawn on, other visible parts (borders, focus ring, icons) at least 3:1."""

from __future__ import annotations

import pytest

from ui.theme import TEXT_SCALES, THEMES, Tokens

TEXT_MIN = 7.0
PART_MIN = 3.0


def luminance(colour: str) -> float:
    """Relative luminance as WCAG 2.2 defines it, for #rrggbb."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_pairs(t: Tokens) -> list[tuple[str, str, str]]:
    """(what, foreground, background) for every text the stylesheet draws."""
    return [
        ("body text", t.text, t.background), ("text on surface", t.text, t.surface),
        ("text on banner", t.text, t.warning_bg), ("muted text", t.text_muted, t.background),
        ("muted text on surface", t.text_muted, t.surface),
        ("placeholder", t.text_muted, t.background),
        ("disabled button text", t.text_muted, t.background),
        ("primary button text", t.on_primary, t.primary),
        ("selected item text", t.on_primary, t.primary),
        ("error text", t.danger, t.background), ("confirmed text", t.success, t.background),
    ]


def part_pairs(t: Tokens) -> list[tuple[str, str, str]]:
    """(what, colour, against): parts against what is next to them, and the focus ring
    against the colour it replaces (so the change of state itself is visible)."""
    return [
        ("focus ring", t.focus, t.background), ("focus ring on surface", t.focus, t.surface),
        ("focus ring replacing a border", t.focus, t.border),
        ("primary focus ring replacing the fill", t.focus_on_primary, t.primary),
        ("field border", t.border, t.background), ("border on surface", t.border, t.surface),
        ("primary button", t.primary, t.background),
    ]


@pytest.mark.parametrize("theme", THEMES.values(), ids=list(THEMES))
def test_text_reaches_7_to_1(theme: Tokens) -> None:
    weak = [(what, round(contrast(fg, bg), 2)) for what, fg, bg in text_pairs(theme)
            if contrast(fg, bg) < TEXT_MIN]
    assert weak == []


@pytest.mark.parametrize("theme", THEMES.values(), ids=list(THEMES))
def test_other_parts_reach_3_to_1(theme: Tokens) -> None:
    weak = [(what, round(contrast(fg, bg), 2)) for what, fg, bg in part_pairs(theme)
            if contrast(fg, bg) < PART_MIN]
    assert weak == []


def test_the_contrast_formula_matches_known_values() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


@pytest.mark.parametrize("scale", TEXT_SCALES)
def test_sizes_grow_with_the_text_setting_and_stay_large(scale: float) -> None:
    for theme in THEMES.values():
        scaled = theme.scaled(scale)
        assert scaled.body_px >= 20 and scaled.body_px == round(22 * scale)
        assert scaled.target_px >= 44
        assert scaled.focus_px >= 2


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_the_focus_ring_does_not_make_a_field_need_more_room(qtbot: object, scale: float) -> None:
    """The thicker focus border is taken from the padding, so a field that gets focus keeps
    its size and its text is not squeezed (the layout check found 2 px missing)."""
    from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

    from ui import theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.apply(app, theme.Appearance(scale=scale))
    try:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        field, other = QLineEdit("demo.navigator"), QLineEdit()
        layout.addWidget(field)
        layout.addWidget(other)
        holder.show()
        other.setFocus()
        app.processEvents()
        unfocused = field.minimumSizeHint()
        field.setFocus()
        app.processEvents()
        assert field.hasFocus()
        assert field.minimumSizeHint().height() <= unfocused.height()
        holder.close()
    finally:
        theme.apply(app)
