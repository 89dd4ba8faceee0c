"""Money, dates and months for every language, formatted with Babel's locale data (amounts are
always US dollars; each language writes them its own way), and each language's plural rules
chosen by ngettext for the counts a screen shows."""

from __future__ import annotations

import datetime as dt
import gettext

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from kiosk.domain.money import Money
from kiosk.i18n import (
    ALL_LANGUAGES,
    CATALOG_DIR,
    LANGUAGES,
    SOURCE_LANGUAGE,
    format_date,
    format_money,
    format_month,
    translator,
)

NBSP, NNBSP, RLM, LRM = "\u00a0", "\u202f", "\u200f", "\u200e"

# (money for $1,234.50, the date 2026-03-23, the month 2026-03), as a reader of each expects.
EXPECTED = {
    "en": ("$1,234.50", "Mar 23, 2026", "March 2026"),
    "es": ("$1,234.50", "23 mar 2026", "marzo de 2026"),
    "zh_Hans": ("US$1,234.50", "2026年3月23日", "2026年3月"),
    "zh_Hant": ("US$1,234.50", "2026年3月23日", "2026年3月"),
    "vi": (f"1.234,50{NBSP}US$", "23 thg 3, 2026", "tháng 3 năm 2026"),
    "ko": ("US$1,234.50", "2026. 3. 23.", "2026년 3월"),
    "tl": ("$1,234.50", "Mar 23, 2026", "Marso 2026"),
    "ru": (f"1{NBSP}234,50{NBSP}$", f"23 мар. 2026{NNBSP}г.", f"март 2026{NNBSP}г."),
    "ar": (f"{RLM}1,234.50{NBSP}US$", f"23{RLM}/03{RLM}/2026", "مارس 2026"),
    "ht": (f"1{NNBSP}234,50{NBSP}$US", "23 mars 2026", "mars 2026"),
    "fr": (f"1{NNBSP}234,50{NBSP}$US", "23 mars 2026", "mars 2026"),
    "pt": (f"US${NBSP}1.234,50", "23 de mar. de 2026", "março de 2026"),
    "pl": (f"1{NBSP}234,50{NBSP}USD", "23 mar 2026", "marzec 2026"),
    "ja": ("$1,234.50", "2026/03/23", "2026年3月"),
    "it": (f"1.234,50{NBSP}USD", "23 mar 2026", "marzo 2026"),
    "de": (f"1.234,50{NBSP}$", "23.03.2026", "März 2026"),
    "fa": (f"{LRM}${NBSP}1,234.50", "23 مارس 2026", "مارس 2026"),
}


def test_every_language_has_expectations() -> None:
    assert set(EXPECTED) == set(ALL_LANGUAGES)


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_money_dates_and_months_read_as_the_language_writes_them(code: str) -> None:
    money, date, month = EXPECTED[code]
    assert format_money(Money(cents=123450), code) == money
    assert format_date(dt.date(2026, 3, 23), code) == date
    assert format_month("2026-03", code) == month


@pytest.mark.parametrize("code", ALL_LANGUAGES)
def test_cents_are_never_rounded_away(code: str) -> None:
    text = format_money(Money(cents=1), code)
    assert "0,01" in text or "0.01" in text


OFFERED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
COUNTS = (0, 1, 2, 3, 4, 5, 11, 12, 21, 22, 25, 100, 101, 111, 1000)


@pytest.mark.parametrize("code", OFFERED)
def test_plural_messages_follow_the_languages_rule(code: str) -> None:
    """Each plural message has exactly the forms the language's rule names, none empty, and
    ngettext picks the form that rule gives for every count a screen may show."""
    with (CATALOG_DIR / code / "LC_MESSAGES" / "kiosk.po").open("rb") as handle:
        catalog = read_po(handle)
    rule = get_plural(catalog.locale)
    choose = gettext.c2py(rule.plural_expr)
    assert catalog.num_plurals == rule.num_plurals
    translations = translator(code)
    plurals = [m for m in catalog if m.id and isinstance(m.id, tuple)]
    assert plurals, "the kiosk has plural messages"
    for message in plurals:
        forms = message.string
        assert len(forms) == rule.num_plurals and all(forms), message.id
        singular, plural = message.id
        for n in COUNTS:
            assert translations.ngettext(singular, plural, n) == forms[choose(n)]


@pytest.mark.parametrize("code", [c for c in ALL_LANGUAGES if c != "tl"])
def test_the_kept_language_names_are_cldrs(code: str) -> None:
    """The language list's names are kept in code (asking Babel loads every locale at start);
    they must stay what CLDR calls each language in itself."""
    from babel import Locale

    from kiosk.i18n import language_name

    cldr = str(Locale.parse(code).get_display_name(code))
    assert language_name(code) == cldr[:1].upper() + cldr[1:]
