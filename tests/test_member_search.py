"""Search by name gives the same first fifty members, in list order, whichever way the vault
answers it: walking the names in order for a short piece that matches many, or sorting the
few matches of a longer or two-piece query. Checked against a plain reading of the rule."""

from __future__ import annotations

import random

from kiosk.bootstrap import Core
from kiosk.domain.members import fold_for_search
from kiosk.services.cache import apply_changes
from kiosk.services.members import search_members

FIRST = ["José", "Thu Hà", "Ana", "Søren", "Minh", "Joanna", "Li", "Ngọc", "Gareth", "Zoë"]
LAST = ["García", "Garcia-López", "Nguyễn", "Ng", "Li", "Gardner", "Johansson", "Le",
        "Müller-Ñúñez", "Lopez", "Garrison", "Ngo"]


def _members(count: int) -> list[dict[str, object]]:
    rng = random.Random(5)
    members = []
    for n in range(count):
        members.append({
            "member_id": f"M-{700000 + n}", "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST), "date_of_birth": "1970-01-01",
            "phone": f"+1312555{n:04d}", "email": "", "plan_id": "P-1", "aptc_cents": 0,
            "net_premium_cents": 10000, "preferred_language": "en",
            "coverage_start": "2026-01-01", "status": "active"})
    return members


def _expected(members: list[dict[str, object]], query: str) -> list[str]:
    """Every word must match: three letters or more anywhere in the name, fewer at the start
    of a word; sorted by last name, first name, member ID; the first fifty."""
    words = fold_for_search(query).split()

    def matches(m: dict[str, object]) -> bool:
        name = fold_for_search(f"{m['first_name']} {m['last_name']}")
        return all(w in name if len(w) >= 3 else name.startswith(w) or f" {w}" in name
                   for w in words)

    hits = sorted((m for m in members if matches(m)),
                  key=lambda m: (str(m["last_name"]), str(m["first_name"]),
                                 str(m["member_id"])))
    return [str(m["member_id"]) for m in hits[:50]]


def test_name_search_returns_the_first_fifty_in_list_order_either_way(core: Core) -> None:
    members = _members(600)
    apply_changes([{"seq": i + 1, "kind": "member", "id": m["member_id"], "data": m}
                   for i, m in enumerate(members)], next_after=len(members), vault=core.vault)
    queries = ["ga", "ng", "li", "le", "jo", "gar", "garc", "nguy", "ngo", "lopez",
               "garcia-lopez", "jose garc", "thu ha", "minh ng", "so", "muller", "zoe li",
               "zz", "qzx", "johansson", "ha"]
    for query in queries:
        got = [hit.member_id for hit in search_members(query, vault=core.vault)]
        assert got == _expected(members, query), query
    assert len(search_members("ga", vault=core.vault)) == 50  # many match; the first fifty
