"""Compile every translation catalog (`.po`) into the binary form gettext reads (`.mo`).

Run by `make` after install so a fresh clone has compiled catalogs: `python -m kiosk.i18n_build`.
"""

from __future__ import annotations

import sys

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from kiosk.i18n import CATALOG_DIR, DOMAIN


def build() -> int:
    """Compile each catalog; returns how many were written."""
    count = 0
    for po_path in sorted(CATALOG_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        with po_path.with_suffix(".mo").open("wb") as out:
            write_mo(out, catalog)
        count += 1
    return count


if __name__ == "__main__":
    print(f"compiled {build()} catalog(s)")
    sys.exit(0)
