"""Translations and locale formatting, without Qt.

Strings are marked with `_()` (translate now), `N_()` (mark only, translate later) and
`ngettext()`. Catalogs live in `i18n/<lang>/LC_MESSAGES/kiosk.po`; the compiled `.mo` is built by
`make` (`python -m kiosk.i18n_build`), and compiled in memory when it is missing or stale, so a
fresh clone always works. The navigator's language is the active one; the member's language is
asked for explicitly with `translator(lang)`.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from kiosk.domain.money import Money

DOMAIN = "kiosk"
CATALOG_DIR = Path(__file__).resolve().parent.parent / "i18n"
SOURCE_LANGUAGE = "en"
# Every language the kiosk is built for: English and the sixteen most spoken by people with
# limited English in the US. A language is offered (LANGUAGES) once its catalog is complete;
# tests/test_i18n.py fails for an offered language with an empty entry.
ALL_LANGUAGES = ("en", "es", "zh_Hans", "zh_Hant", "vi", "ko", "tl", "ru", "ar", "ht", "fr",
                 "pt", "pl", "ja", "it", "de", "fa")
LANGUAGES = ALL_LANGUAGES
# The Babel locale used to format money and dates for each language (US context where it
# matters: dollars, US Spanish). CLDR has no month names or date patterns for Haitian Creole,
# so Haitian dates use Haiti's French ones ("23 mars 2026"), which Creole readers know from
# every official letter, rather than "2026 M03 23".
_LOCALES = {"en": "en_US", "es": "es_US", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW",
            "vi": "vi_VN", "ko": "ko_KR", "tl": "fil_PH", "ru": "ru_RU", "ar": "ar",
            "ht": "fr_HT", "fr": "fr_FR", "pt": "pt_BR", "pl": "pl_PL", "ja": "ja_JP",
            "it": "it_IT", "de": "de_DE", "fa": "fa_IR"}


class _Active:
    """The navigator's current language; switched from the UI thread, read from any."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.code = SOURCE_LANGUAGE
        self.catalog: gettext.NullTranslations = gettext.NullTranslations()


_active = _Active()


def _compile_in_memory(po_path: Path) -> gettext.GNUTranslations:
    # Babel is imported here only, so start-up does not pay for it when .mo files exist.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def translator(code: str) -> gettext.NullTranslations:
    """The catalog for a language; the source language (and any unknown one) is identity."""
    folder = CATALOG_DIR / code / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if code == SOURCE_LANGUAGE or not po_path.exists():
        return gettext.NullTranslations()
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    return _compile_in_memory(po_path)


def set_language(code: str) -> None:
    """Make `code` the navigator's language for every later `_()` call."""
    catalog = translator(code)
    with _active.lock:
        _active.code = code
        _active.catalog = catalog


@contextmanager
def in_language(code: str) -> Iterator[None]:
    """Translate with `_()` into `code` for the duration (what the member reads: a receipt,
    an authorization, the amount to confirm), then go back to the navigator's language.
    For the UI thread, where all translation happens."""
    with _active.lock:
        saved = (_active.code, _active.catalog)
    set_language(code)
    try:
        yield
    finally:
        with _active.lock:
            _active.code, _active.catalog = saved


def current_language() -> str:
    return _active.code


def _(message: str) -> str:
    """Translate into the navigator's current language."""
    return _active.catalog.gettext(message)


def N_(message: str) -> str:
    """Mark a string for extraction; translate it later with `_()`."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """Pick the plural form for `n` in the current language."""
    return _active.catalog.ngettext(singular, plural, n)


def _locale(code: str | None) -> str:
    chosen = code or _active.code
    return _LOCALES.get(chosen, chosen)


# Each language's name in itself, as CLDR gives it (Babel's get_display_name), except Tagalog,
# where CLDR's name is not the one speakers look for on a list. Kept here because asking Babel
# loads every language's whole locale data: 15 MB and 0.1 s at start for the language list.
_OWN_NAMES = {
    "en": "English", "es": "Español", "zh_Hans": "中文 (简体)", "zh_Hant": "中文 (繁體)",
    "vi": "Tiếng Việt", "ko": "한국어", "tl": "Tagalog", "ru": "Русский", "ar": "العربية",
    "ht": "Kreyòl Ayisyen", "fr": "Français", "pt": "Português", "pl": "Polski", "ja": "日本語",
    "it": "Italiano", "de": "Deutsch", "fa": "فارسی",
}


def isolate(text: str) -> str:
    """Wrap a number, amount or code so it reads left to right inside right-to-left text
    (Unicode first-strong isolate), e.g. a member ID inside an Arabic sentence."""
    return f"\u2068{text}\u2069"


def line_start(text: str) -> str:
    """Text made only of names or codes (a member's name as a heading), started with a
    right-to-left mark when the navigator reads right to left, so it sits where their lines
    start (Qt aligns a line by its first strong letter, which a Latin name makes left)."""
    return f"\u200f{text}" if is_right_to_left(current_language()) else text


def format_money(amount: Money, language: str | None = None) -> str:
    """The amount as people of `language` write it, e.g. $1,234.50 or 1234,50 US$."""
    from babel.numbers import format_currency

    return str(format_currency(amount.as_decimal(), amount.currency, locale=_locale(language)))


def format_date(day: dt.date, language: str | None = None, *, fmt: str = "medium") -> str:
    from babel.dates import format_date as babel_format_date

    return str(babel_format_date(day, format=fmt, locale=_locale(language)))


def format_datetime(moment: dt.datetime, language: str | None = None, *,
                    tz: str | None = None) -> str:
    from babel.dates import format_datetime as babel_format_datetime
    from babel.dates import get_timezone

    return str(babel_format_datetime(moment, format="medium",
                                     tzinfo=get_timezone(tz) if tz else None,
                                     locale=_locale(language)))


def format_month(month: str, language: str | None = None) -> str:
    """A coverage month "2026-03" as "March 2026" in the language."""
    from babel.dates import format_skeleton

    year, number = (int(part) for part in month.split("-"))
    return str(format_skeleton("yMMMM", dt.date(year, number, 1), locale=_locale(language)))


# Codes an exchange may send for a member's language, when they are not the kiosk's own.
_LANGUAGE_ALIASES = {"zh": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans",
                     "zh_tw": "zh_Hant", "zh_hk": "zh_Hant", "zh_mo": "zh_Hant",
                     "fil": "tl", "tl_ph": "tl", "pes": "fa", "prs": "fa"}


def kiosk_language(code: str) -> str | None:
    """The kiosk's language for a language code from outside (BCP 47 or POSIX style: "vi",
    "zh-TW", "pt_BR", "fil"), or None when the kiosk has no such language."""
    wanted = code.strip().replace("-", "_")
    by_lower = {c.lower(): c for c in ALL_LANGUAGES}
    lowered = wanted.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    if lowered in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[lowered]
    if lowered.startswith("zh_hant"):
        return "zh_Hant"
    base = lowered.split("_", 1)[0]
    return by_lower.get(base) or _LANGUAGE_ALIASES.get(base)


def language_name(code: str) -> str:
    """A language's name in that language itself ("Español"), for the language list."""
    from babel import Locale

    if code in _OWN_NAMES:
        return _OWN_NAMES[code]
    name = Locale.parse(code).get_display_name(code) or code
    return str(name[:1].upper() + name[1:])


def is_right_to_left(code: str) -> bool:
    """Direction from Babel's locale data (Arabic and Persian are right to left)."""
    from babel import Locale

    return bool(Locale.parse(_locale(code)).text_direction == "rtl")
