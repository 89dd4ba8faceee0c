"""Every string of every catalog can be drawn with the fonts the kiosk ships: no empty boxes
in Chinese, Japanese, Korean, Arabic, Persian, Vietnamese or any other language."""

from __future__ import annotations

import unicodedata
from functools import cache

import pytest
from babel.messages.pofile import read_po
from PySide6.QtGui import QRawFont
from PySide6.QtWidgets import QApplication

from kiosk.i18n import ALL_LANGUAGES, CATALOG_DIR
from ui.theme import _font_files

# Characters that are never drawn: formatting marks, not glyphs.
INVISIBLE = {"\u2068", "\u2069", "\u200e", "\u200f", "\u00ad", "&"}


@cache
def shipped_fonts() -> tuple[QRawFont, ...]:
    fonts = tuple(QRawFont(str(path), 16) for path in _font_files())
    assert fonts and all(font.isValid() for font in fonts)
    return fonts


def missing(text: str) -> set[str]:
    fonts = shipped_fonts()
    return {ch for ch in text
            if ch not in INVISIBLE and not ch.isspace()
            and unicodedata.category(ch)[0] != "C"
            and not any(font.supportsCharacter(ord(ch)) for font in fonts)}


def strings(code: str) -> list[str]:
    path = CATALOG_DIR / code / "LC_MESSAGES" / "kiosk.po"
    if code == "en":
        path = CATALOG_DIR / "kiosk.pot"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    found: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)) + (
                message.string if isinstance(message.string, tuple) else (message.string,)):
            if text:
                found.append(text)
    return found


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_every_catalog_string_has_glyphs(qapp: QApplication, code: str) -> None:
    lacking = {ch: f"U+{ord(ch):04X}" for text in strings(code) for ch in missing(text)}
    assert lacking == {}


def test_sample_texts_of_each_script_have_glyphs(qapp: QApplication) -> None:
    samples = ["Nguyễn Thị Hà đã thanh toán", "谢谢您的付款", "謝謝您的付款",
               "お支払いありがとう", "결제해 주셔서 감사합니다", "شكرا لدفعك",
               "از پرداخت شما متشکریم", "Спасибо за оплату", "Zażółć gęślą jaźń",
               "Søren Müller-Ñúñez", "— … · “ ” • « » ‹ ›"]
    assert {s: missing(s) for s in samples if missing(s)} == {}


def test_the_check_notices_a_character_no_font_has(qapp: QApplication) -> None:
    assert missing("\u0f00") == {"\u0f00"}  # Tibetan: no shipped font draws it
