"""Deterministic demo data for the sandbox exchange: plans, members and their premium invoices,
the same for the same seed, member count and `today`, so demos and tests can rely on them.

All people are invented. Dates are relative to `today`: every member who is not a new enrollee
has invoices for the last two or three coverage months and the next one. A coverage month's
premium is due on the last day of the month before it. About 20% of members are past due
(status ``grace``), about 10% are new enrollees owing a binder payment (status ``binder_due``,
one open invoice for next month with ``is_binder`` true) and about 55% receive advance premium
tax credits (``aptc_cents`` > 0).

Fixed members, always present whatever the seed (amounts in cents):

- ``M-100001`` José Álvarez, Spanish; Silver plan ``P-MER-SLV-3000`` (gross 52418, APTC 33676,
  net 18742); past due: two open invoices, this month's (past its due date) and next month's;
  earlier months paid.
- ``M-100002`` Zoë Nguyễn, English; ``P-CAS-SLV-2500`` (net 21421); binder due: a single open
  invoice for next month with ``is_binder`` true; coverage starts on the 1st of next month.
- ``M-100003`` Ana Pérez, Spanish; Bronze ``P-LKS-BRZ-7500``, no APTC (net 38914); fully paid:
  three months and next month all paid, no open invoice.
- ``M-100004`` Søren Müller-Ñúñez, English; APTC covers the whole premium (net 0); all invoices
  paid at $0.
- ``M-100005`` Thu Hà Nguyễn, Vietnamese; net 18225; past due three months with the oldest
  partly paid (10000), so four open invoices including next month's.
"""

from __future__ import annotations

import logging
import random
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from . import demo_account
from .billing import InvoiceStatus, MemberStatus, OpenInvoice, member_status

logger = logging.getLogger(__name__)


class Standing(StrEnum):
    """How a demo member has paid so far; decides which of their invoices are open."""

    CURRENT = "current"  # earlier months paid, next month open
    PAID_AHEAD = "paid_ahead"  # next month paid too
    PAST_DUE = "past_due"  # one to three recent months still open
    BINDER = "binder"  # new enrollee, only the binder invoice
    ZERO_PREMIUM = "zero_premium"  # APTC covers the whole premium


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A health plan as the changes feed carries it."""

    plan_id: str
    name: str
    issuer: str
    metal_level: str
    gross_premium_cents: int
    deductible_cents: int
    oop_max_cents: int

    def as_data(self) -> dict[str, object]:
        """The record in the contract's shape, with its main copays (v1.1)."""
        return {**asdict(self), "copays": demo_account.copays(self.metal_level)}


@dataclass(frozen=True, kw_only=True)
class Member:
    """An enrolled person as the changes feed carries them."""

    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    phone: str
    email: str
    plan_id: str
    aptc_cents: int
    net_premium_cents: int
    preferred_language: str
    coverage_start: date
    status: MemberStatus
    # The account fields of contract v1.1 (see demo_account).
    address: dict[str, str] = field(default_factory=dict)
    covered_people: tuple[dict[str, str], ...] = ()
    coverage_end: date | None = None
    plan_effective: date | None = None
    profile_version: int = 1

    def as_data(self) -> dict[str, object]:
        """The record in the contract's shape: dates as YYYY-MM-DD, status as its value;
        no preferences until the member chooses them."""
        data = asdict(self)
        data.update(
            date_of_birth=self.date_of_birth.isoformat(),
            coverage_start=self.coverage_start.isoformat(),
            status=self.status.value,
            covered_people=list(self.covered_people),
            coverage_end=self.coverage_end.isoformat() if self.coverage_end else None,
            plan_effective=self.plan_effective.isoformat() if self.plan_effective else None,
            preferences=None,
        )
        return data


@dataclass(frozen=True, kw_only=True)
class Invoice:
    """One coverage month's premium bill."""

    invoice_id: str
    member_id: str
    coverage_month: str
    amount_due_cents: int
    amount_paid_cents: int
    due_date: date
    is_binder: bool
    status: InvoiceStatus

    def as_data(self) -> dict[str, object]:
        """The record in the contract's shape."""
        data = asdict(self)
        data.update(due_date=self.due_date.isoformat(), status=self.status.value)
        return data

    def as_open(self) -> OpenInvoice:
        """The view the billing rules work on."""
        return OpenInvoice(
            invoice_id=self.invoice_id,
            coverage_month=self.coverage_month,
            due_date=self.due_date,
            balance_cents=self.amount_due_cents - self.amount_paid_cents,
            is_binder=self.is_binder,
        )


@dataclass(frozen=True, kw_only=True)
class DemoData:
    """Everything the exchange seeds its database with, in feed order."""

    plans: tuple[Plan, ...]
    members: tuple[Member, ...]
    invoices: tuple[Invoice, ...]
    payments: tuple[dict[str, Any], ...] = ()  # past payments made anywhere, in feed shape
    disputes: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Profile:
    """The choices that decide one member's record and invoices."""

    first_name: str
    last_name: str
    language: str
    standing: Standing
    plan_id: str
    aptc_cents: int
    date_of_birth: date
    months_enrolled: int
    billed_months: int
    open_months: int = 0
    partial_paid_cents: int = 0


_ISSUERS = {
    "LKS": "Lakeshore Health Cooperative",
    "MER": "Meridian Mutual Health",
    "CAS": "Cascadia Care Plans",
    "PBH": "Prairie Bluestem Health",
}
# plan_id (its second part names the issuer), name, metal level, then in cents the gross
# monthly premium, the deductible and the out-of-pocket maximum.
_PLAN_ROWS = (
    ("P-LKS-BRZ-7500", "Lakeshore Bronze 7500", "Bronze", 38914, 750000, 920000),
    ("P-LKS-SLV-4500", "Lakeshore Silver 4500", "Silver", 49237, 450000, 880000),
    ("P-MER-EBZ-6000", "Meridian Expanded Bronze 6000", "Expanded Bronze", 41602, 600000, 850000),
    ("P-MER-SLV-3000", "Meridian Silver 3000 Copay Plus", "Silver", 52418, 300000, 780000),
    ("P-MER-GLD-1500", "Meridian Gold 1500", "Gold", 61955, 150000, 650000),
    ("P-CAS-SLV-2500", "Cascadia Silver 2500 Value", "Silver", 50871, 250000, 800000),
    ("P-CAS-GLD-750", "Cascadia Gold 750 Select", "Gold", 64320, 75000, 550000),
    ("P-CAS-PLT-0", "Cascadia Platinum 0 Deductible", "Platinum", 78549, 0, 350000),
    ("P-PBH-CAT-9200", "Prairie Catastrophic 9200", "Catastrophic", 26188, 920000, 920000),
    ("P-PBH-BRZ-8000", "Prairie Bronze 8000", "Bronze", 36745, 800000, 920000),
)
PLANS = tuple(
    Plan(
        plan_id=plan_id,
        name=name,
        issuer=_ISSUERS[plan_id.split("-")[1]],
        metal_level=metal,
        gross_premium_cents=gross,
        deductible_cents=deductible,
        oop_max_cents=oop_max,
    )
    for plan_id, name, metal, gross, deductible, oop_max in _PLAN_ROWS
)
_PLAN_WEIGHTS = (8, 14, 6, 18, 7, 16, 6, 3, 2, 5)
_PLANS_BY_ID = {plan.plan_id: plan for plan in PLANS}


@dataclass(frozen=True, kw_only=True)
class _Community:
    """A pool of invented names, and how often its members prefer its language over English."""

    weight: int
    language: str
    own_language_share: float
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def _names(listing: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in listing.split(","))


# Names are stored given names first; Vietnamese family names ("Nguyễn") go in last_name.
_COMMUNITIES = (
    _Community(
        weight=32,
        language="es",
        own_language_share=0.65,
        first_names=_names(
            "José, María, Joaquín, Inés, Ramón, Ximena, Tomás, Lucía, Andrés, Sofía, Héctor,"
            " Begoña, Martín, Mónica, Raúl, Yesenia, Maximiliano, Itzel, Dolores, Guadalupe"
        ),
        last_names=_names(
            "Álvarez, Pérez, Ñúñez, García-López, Hernández, Muñoz, Ibáñez, Castañeda,"
            " Rodríguez, Gómez, Peña, Velázquez, Fernández-Castañeda, Quiñones, Báez, Ordóñez"
        ),
    ),
    _Community(
        weight=30,
        language="en",
        own_language_share=1.0,
        first_names=_names(
            "Zoë, Chloé, Søren, Renée, Noémie, Björn, François, Siobhán, Łukasz, Jürgen, Amara,"
            " Kwame, Aaliyah, Emily, Marcus, Olivia, Hannah, Dakota, Declan, Ngozi, Oluwaseun,"
            " Priya, Arjun, Tyrone, Brittany"
        ),
        last_names=_names(
            "Müller, Søndergaard, Dubois, Lefèvre, O'Brien, Kowalski, Schäfer, Björklund,"
            " Okafor, Mensah, Patel, Johnson, Whitfield, Begay, Yazzie, Van der Berg, MacLeod,"
            " Thompson, Brooks, Ramaswamy"
        ),
    ),
    _Community(
        weight=10,
        language="vi",
        own_language_share=0.7,
        first_names=_names("Minh, Thảo, Hùng, Lan, Quốc Bảo, Ngọc Anh, Thu Hà, Đức, Phương, Tuấn"),
        last_names=_names("Nguyễn, Trần, Lê, Phạm, Hoàng, Võ, Đặng, Bùi"),
    ),
    _Community(
        weight=8,
        language="zh",
        own_language_share=0.6,
        first_names=_names("Wei, Mei, Jun, Xiaoling, Hao, Yating, Zhiwei, Lihua"),
        last_names=_names("Chen, Wang, Li, Zhang, Liu, Huang, Zhou, Lin"),
    ),
    _Community(
        weight=6,
        language="ar",
        own_language_share=0.6,
        first_names=_names("Fatima, Omar, Layla, Yusuf, Nadia, Khalid, Rania, Samir"),
        last_names=_names("Haddad, Khalil, Nasser, Saleh, Al-Amin, Mansour, Darwish"),
    ),
    _Community(
        weight=5,
        language="ko",
        own_language_share=0.55,
        first_names=_names("Ji-woo, Min-jun, Seo-yeon, Hyun-woo, Da-eun"),
        last_names=_names("Kim, Park, Choi, Jung, Kang"),
    ),
    _Community(
        weight=5,
        language="ht",
        own_language_share=0.6,
        first_names=_names("Jean-Baptiste, Mirlande, Wideline, Nadège, Ketly, Réginald"),
        last_names=_names("Joseph, Pierre-Louis, Célestin, Théodore, Jean-Charles"),
    ),
    _Community(
        weight=4,
        language="tl",
        own_language_share=0.4,
        first_names=_names("Maricel, Jerome, Lorna, Rodel, Jasmine"),
        last_names=_names("Dela Cruz, Santos, Bautista, Reyes, Villanueva"),
    ),
)
_AREA_CODES = ("312", "773", "213", "305", "713", "206", "617", "404", "602", "503")
_EMAIL_DOMAINS = ("example.org", "example.com")
# Letters NFKD does not take apart into a base letter and an accent.
_ASCII_FOLD = str.maketrans(
    {"ø": "o", "Ø": "O", "ß": "ss", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE"}
)

_FIXED: tuple[_Profile, ...] = (
    _Profile(
        first_name="José",
        last_name="Álvarez",
        language="es",
        standing=Standing.PAST_DUE,
        plan_id="P-MER-SLV-3000",
        aptc_cents=33676,
        date_of_birth=date(1979, 3, 14),
        months_enrolled=14,
        billed_months=3,
        open_months=1,
    ),
    _Profile(
        first_name="Zoë",
        last_name="Nguyễn",
        language="en",
        standing=Standing.BINDER,
        plan_id="P-CAS-SLV-2500",
        aptc_cents=29450,
        date_of_birth=date(1996, 8, 2),
        months_enrolled=0,
        billed_months=0,
    ),
    _Profile(
        first_name="Ana",
        last_name="Pérez",
        language="es",
        standing=Standing.PAID_AHEAD,
        plan_id="P-LKS-BRZ-7500",
        aptc_cents=0,
        date_of_birth=date(1988, 11, 30),
        months_enrolled=9,
        billed_months=3,
    ),
    _Profile(
        first_name="Søren",
        last_name="Müller-Ñúñez",
        language="en",
        standing=Standing.ZERO_PREMIUM,
        plan_id="P-PBH-BRZ-8000",
        aptc_cents=36745,
        date_of_birth=date(1961, 5, 9),
        months_enrolled=20,
        billed_months=3,
    ),
    _Profile(
        first_name="Thu Hà",
        last_name="Nguyễn",
        language="vi",
        standing=Standing.PAST_DUE,
        plan_id="P-LKS-SLV-4500",
        aptc_cents=31012,
        date_of_birth=date(1970, 1, 21),
        months_enrolled=11,
        billed_months=3,
        open_months=3,
        partial_paid_cents=10000,
    ),
)
FIXED_MEMBER_IDS = tuple(f"M-{100001 + index}" for index in range(len(_FIXED)))

# Shares of all members, fixed ones included; the rest are CURRENT.
_STANDING_SHARES = {
    Standing.PAST_DUE: 0.20,
    Standing.BINDER: 0.10,
    Standing.PAID_AHEAD: 0.08,
    Standing.ZERO_PREMIUM: 0.03,
}


def generate(*, seed: int, members: int, today: date) -> DemoData:
    """Build the demo data; the same arguments always give the same data."""
    rng = random.Random(seed)
    standings = _standings(rng, members)
    built = [
        _build_member(index, _profile(rng, index, standings, today), today, rng)
        for index in range(members)
    ]
    logger.debug("generated %d demo members from seed %d", members, seed)
    payments, disputes = demo_account.history(
        [_history_member(member, invoices) for member, invoices in built], today
    )
    return DemoData(
        plans=PLANS,
        members=tuple(member for member, _ in built),
        invoices=tuple(invoice for _, invoices in built for invoice in invoices),
        payments=payments,
        disputes=disputes,
    )


def _history_member(member: Member, invoices: list[Invoice]) -> demo_account.HistoryMember:
    return demo_account.HistoryMember(
        member_id=member.member_id,
        net_premium_cents=member.net_premium_cents,
        coverage_start=member.coverage_start,
        paid_by_month={i.coverage_month: i.amount_paid_cents for i in invoices},
    )


def _standings(rng: random.Random, members: int) -> list[Standing]:
    """Standings of the generated (not fixed) members, in quota, shuffled."""
    pool: list[Standing] = []
    for standing, share in _STANDING_SHARES.items():
        fixed = sum(1 for profile in _FIXED if profile.standing is standing)
        pool += [standing] * max(0, round(share * members) - fixed)
    generated = members - len(_FIXED)
    pool = pool[:generated] + [Standing.CURRENT] * max(0, generated - len(pool))
    rng.shuffle(pool)
    return pool


def _profile(rng: random.Random, index: int, standings: list[Standing], today: date) -> _Profile:
    if index < len(_FIXED):
        return _FIXED[index]
    return _random_profile(rng, standings[index - len(_FIXED)], today)


def _random_profile(rng: random.Random, standing: Standing, today: date) -> _Profile:
    first_name, last_name, language = _random_name(rng)
    plan = rng.choices(PLANS, weights=_PLAN_WEIGHTS)[0]
    billed = rng.choice((2, 3))
    return _Profile(
        first_name=first_name,
        last_name=last_name,
        language=language,
        standing=standing,
        plan_id=plan.plan_id,
        aptc_cents=_random_aptc(rng, plan.gross_premium_cents, standing),
        date_of_birth=_random_birth_date(rng, today),
        months_enrolled=0 if standing is Standing.BINDER else rng.randint(4, 30),
        billed_months=0 if standing is Standing.BINDER else billed,
        open_months=min(billed, rng.choice((1, 1, 2, 2, 3))),
        partial_paid_cents=rng.choice((0, 0, 0, 5000, 7500, 12000)),
    )


def _random_name(rng: random.Random) -> tuple[str, str, str]:
    """A first name, last name and preferred language; never a fixed member's name."""
    weights = [community.weight for community in _COMMUNITIES]
    fixed_names = {(profile.first_name, profile.last_name) for profile in _FIXED}
    while True:
        community = rng.choices(_COMMUNITIES, weights=weights)[0]
        first, last = rng.choice(community.first_names), rng.choice(community.last_names)
        if (first, last) not in fixed_names:
            break
    own_language = rng.random() < community.own_language_share
    return first, last, community.language if own_language else "en"


def _random_aptc(rng: random.Random, gross_cents: int, standing: Standing) -> int:
    if standing is Standing.ZERO_PREMIUM:
        return gross_cents
    if rng.random() >= 0.55:
        return 0
    return rng.randint(gross_cents // 5, gross_cents * 17 // 20)


def _random_birth_date(rng: random.Random, today: date) -> date:
    oldest = _years_before(today, 65) + timedelta(days=1)
    youngest = _years_before(today, 18)
    return date.fromordinal(rng.randint(oldest.toordinal(), youngest.toordinal()))


def _build_member(
    index: int, profile: _Profile, today: date, rng: random.Random
) -> tuple[Member, list[Invoice]]:
    number = 100001 + index
    invoices = _invoices(number, profile, today)
    open_ones = [invoice.as_open() for invoice in invoices if invoice.status is InvoiceStatus.OPEN]
    member = Member(
        member_id=f"M-{number}",
        first_name=profile.first_name,
        last_name=profile.last_name,
        date_of_birth=profile.date_of_birth,
        phone=_phone(index),
        email=_email(profile, number, rng),
        plan_id=profile.plan_id,
        aptc_cents=profile.aptc_cents,
        net_premium_cents=_net_premium(profile),
        preferred_language=profile.language,
        coverage_start=_add_months(_month_start(today), 1 - profile.months_enrolled),
        status=member_status(open_ones, today=today),
    )
    return _with_account(member, number, today), invoices


def _with_account(member: Member, number: int, today: date) -> Member:
    """The member with an address, the people covered and the coverage year's dates."""
    start = member.coverage_start
    year_end = date(max(today.year, start.year), 12, 31)
    return replace(
        member,
        address=demo_account.address(number, member.phone),
        covered_people=tuple(
            demo_account.covered_people(number, member.first_name, member.last_name)
        ),
        coverage_end=year_end,
        plan_effective=max(start, date(year_end.year, 1, 1)),
    )


def _net_premium(profile: _Profile) -> int:
    gross = _PLANS_BY_ID[profile.plan_id].gross_premium_cents
    return max(0, gross - profile.aptc_cents)


def _invoices(number: int, profile: _Profile, today: date) -> list[Invoice]:
    """The member's invoices, oldest first: billed months up to this one, then next month."""
    this_month = _month_start(today)
    months = [_add_months(this_month, offset) for offset in range(1 - profile.billed_months, 2)]
    unpaid = _unpaid_positions(profile, len(months))
    return [
        _invoice(
            number,
            profile,
            month,
            is_open=position in unpaid,
            paid_toward=profile.partial_paid_cents if position == unpaid.start else 0,
        )
        for position, month in enumerate(months)
    ]


def _unpaid_positions(profile: _Profile, count: int) -> range:
    """Which of `count` invoices, oldest first with next month's last, are still open."""
    if profile.standing is Standing.PAST_DUE:
        return range(count - 1 - profile.open_months, count)
    if profile.standing in (Standing.CURRENT, Standing.BINDER):
        return range(count - 1, count)
    return range(0)


def _invoice(
    number: int, profile: _Profile, month: date, *, is_open: bool, paid_toward: int
) -> Invoice:
    due = _net_premium(profile)
    partly = paid_toward if profile.standing is Standing.PAST_DUE else 0
    paid = max(0, min(partly, due - 1)) if is_open else due
    return Invoice(
        invoice_id=f"INV-{number}-{month:%Y%m}",
        member_id=f"M-{number}",
        coverage_month=f"{month:%Y-%m}",
        amount_due_cents=due,
        amount_paid_cents=paid,
        due_date=month - timedelta(days=1),
        is_binder=profile.standing is Standing.BINDER,
        status=InvoiceStatus.OPEN if paid < due else InvoiceStatus.PAID,
    )


def _phone(index: int) -> str:
    """A US number in E.164 from the 555-0100..0199 range set aside for fiction."""
    area = _AREA_CODES[index % len(_AREA_CODES)]
    return f"+1{area}555{100 + (index // len(_AREA_CODES)) % 100:04d}"


def _email(profile: _Profile, number: int, rng: random.Random) -> str:
    local = f"{_ascii_letters(profile.first_name)}.{_ascii_letters(profile.last_name)}"
    return f"{local}{number % 1000:03d}@{rng.choice(_EMAIL_DOMAINS)}"


def _ascii_letters(name: str) -> str:
    """`name` lowercased and folded to ASCII letters and digits: "Nguyễn" -> "nguyen"."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_ASCII_FOLD))
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and ch.isalnum())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(month_start: date, months: int) -> date:
    index = month_start.year * 12 + month_start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)
