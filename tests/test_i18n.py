"""Translations: every catalog the kiosk offers is complete, keeps the source's placeholders,
and switching language re-translates the screens on the spot."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from kiosk.domain.money import Money
from kiosk.i18n import (
    CATALOG_DIR,
    LANGUAGES,
    SOURCE_LANGUAGE,
    _,
    format_money,
    kiosk_language,
    language_name,
    ngettext,
    set_language,
    translator,
)

OFFERED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]


def catalog(code: str) -> Catalog:
    with (CATALOG_DIR / code / "LC_MESSAGES" / "kiosk.po").open("rb") as handle:
        return read_po(handle)


def template() -> Catalog:
    with (CATALOG_DIR / "kiosk.pot").open("rb") as handle:
        return read_po(handle)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def accelerators(text: str) -> int:
    return len(re.findall(r"&(?!&)\w", text))


@pytest.mark.parametrize("code", OFFERED)
def test_catalog_is_complete_and_nothing_is_fuzzy(code: str) -> None:
    cat = catalog(code)
    source_ids = {m.id for m in template() if m.id}
    ids = {m.id for m in cat if m.id}
    assert source_ids <= ids, f"missing from {code}: {sorted(map(str, source_ids - ids))}"
    for message in cat:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{code}: untranslated {message.id!r}"
        assert not message.fuzzy, f"{code}: fuzzy {message.id!r}"


@pytest.mark.parametrize("code", OFFERED)
def test_translations_keep_the_placeholders_and_accelerators(code: str) -> None:
    for message in catalog(code):
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(placeholders(s) for s in sources))
        for target in targets:
            assert placeholders(target) == wanted, f"{code}: {message.id!r} -> {target!r}"
            assert accelerators(target) == accelerators(sources[0]), target


@pytest.mark.parametrize("code", OFFERED)
def test_catalog_header_says_it_awaits_native_review(code: str) -> None:
    assert "awaiting" in (catalog(code).last_translator or "").lower()


def test_the_placeholder_check_catches_a_changed_name() -> None:
    assert placeholders("Pay {amount} by {date}") != placeholders("Pague {monto} antes del {date}")


def test_source_strings_never_build_ids_dynamically() -> None:
    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"""\b_\(\s*f["']|\b_\(\s*["'][^"']*["']\s*%|\bN_\(\s*f["']""")
    offenders = [str(path.relative_to(root)) for folder in ("kiosk", "ui")
                 for path in (root / folder).rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


def test_spanish_is_used_after_switching_and_english_after_switching_back() -> None:
    try:
        set_language("es")
        assert _("Sign in") == "Iniciar sesión"
        assert ngettext("{n} member found", "{n} members found", 1).format(n=1).startswith("1")
        assert ngettext("{n} member found", "{n} members found", 3) != ngettext(
            "{n} member found", "{n} members found", 1)
    finally:
        set_language("en")
    assert _("Sign in") == "Sign in"


def test_money_is_formatted_for_the_language() -> None:
    amount = Money(cents=123450)
    assert format_money(amount, "en") == "$1,234.50"
    assert format_money(amount, "es") == "$1,234.50"  # US Spanish writes dollars as in English
    assert format_money(amount, "de").replace("\u00a0", " ") == "1.234,50 $"


def test_languages_are_listed_by_their_own_names() -> None:
    assert language_name("es") == "Español"
    assert language_name("en") == "English"


def test_a_missing_compiled_catalog_is_compiled_in_memory(tmp_path: Path) -> None:
    translations = translator("es")
    assert translations.gettext("Sign out") == "Cerrar sesión"


@pytest.mark.parametrize(("outside", "ours"), [
    ("vi", "vi"), ("VI", "vi"), ("zh", "zh_Hans"), ("zh-CN", "zh_Hans"), ("zh-TW", "zh_Hant"),
    ("zh-Hant-HK", "zh_Hant"), ("zh_Hant", "zh_Hant"), ("pt-BR", "pt"), ("es-419", "es"),
    ("fil", "tl"), ("fa-IR", "fa"), ("ht", "ht"), ("xx", None), ("", None),
])
def test_a_members_language_from_the_exchange_maps_to_the_kiosks(outside: str,
                                                                  ours: str | None) -> None:
    assert kiosk_language(outside) == ours
