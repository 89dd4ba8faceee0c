"""The flow of a visit at the counter as a state machine, without Qt.

The UI shows one screen per state and forwards each gesture here; an event that does not fit
the current state raises, so a double click or a stale signal cannot skip a step (for example,
reach a receipt without a payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.errors import KioskError


class VisitState(StrEnum):
    FIRST_RUN = "first_run"  # no staff account yet: enrol the first navigator
    SIGNED_OUT = "signed_out"  # waiting for a navigator to sign in
    WELCOME = "welcome"  # start of a visit: the member chooses the language they read
    FIND_MEMBER = "find_member"  # signed in, looking for the member at the counter
    MEMBER = "member"  # the member's plan, invoices and balance
    PAYING = "paying"  # choosing the amount and using the card terminal
    HISTORY = "history"  # every payment of the member, from anywhere
    COVERAGE = "coverage"  # the plan and coverage summary
    AUTOPAY = "autopay"  # automatic and scheduled payments
    DISPUTES = "disputes"  # questions about payments, followed with the exchange
    METHODS = "methods"  # the member's saved payment methods
    PROFILE = "profile"  # the member's contact details
    PREFERENCES = "preferences"  # how the member gets messages and reminders
    RECEIPT = "receipt"  # the payment is recorded; the receipt is shown
    QUEUE = "queue"  # staff tool: what waits for the exchange, Send now, cancel
    REPORT = "report"  # staff tool: the site reconciliation report
    STAFF = "staff"  # staff tool: staff accounts (add, unlock, remove)


class VisitFlowError(KioskError):
    """A gesture arrived that does not fit the current step."""

    code = "visit_flow"


# Staff tools, opened between members.
TOOLS = (VisitState.QUEUE, VisitState.REPORT, VisitState.STAFF)
# The member's own pages, opened from the member screen and closed back to it.
MEMBER_PAGES = (VisitState.HISTORY, VisitState.COVERAGE, VisitState.AUTOPAY, VisitState.DISPUTES,
                VisitState.METHODS, VisitState.PROFILE, VisitState.PREFERENCES)


@dataclass(slots=True)
class Visit:
    """The current step, and the member and payment the visit is about."""

    state: VisitState = VisitState.SIGNED_OUT
    member_id: str | None = None
    payment_id: str | None = None

    def _require(self, *allowed: VisitState) -> None:
        if self.state not in allowed:
            raise VisitFlowError(state=str(self.state), allowed=[str(s) for s in allowed])

    def _forget_member(self) -> None:
        self.member_id = None
        self.payment_id = None

    def start(self, *, has_staff: bool) -> None:
        """At launch: first-run enrolment when there is no staff account, else sign-in."""
        self._forget_member()
        self.state = VisitState.SIGNED_OUT if has_staff else VisitState.FIRST_RUN

    def staff_enrolled(self) -> None:
        self._require(VisitState.FIRST_RUN)
        self.state = VisitState.SIGNED_OUT

    def signed_in(self) -> None:
        self._require(VisitState.SIGNED_OUT)
        self.state = VisitState.WELCOME

    def language_chosen(self) -> None:
        """The member chose a language on the start screen; the navigator finds them."""
        self._require(VisitState.WELCOME)
        self.state = VisitState.FIND_MEMBER

    def member_chosen(self, member_id: str) -> None:
        self._require(VisitState.FIND_MEMBER)
        self.member_id = member_id
        self.state = VisitState.MEMBER

    def start_payment(self) -> None:
        self._require(VisitState.MEMBER)
        self.state = VisitState.PAYING

    def open_member_page(self, page: VisitState) -> None:
        """Open one of the member's own pages (saved methods, and later history, plan...)."""
        if page not in MEMBER_PAGES:
            raise VisitFlowError(state=str(page))
        self._require(VisitState.MEMBER, *MEMBER_PAGES)  # pages link to each other
        self.state = page

    def payment_taken(self, payment_id: str) -> None:
        self._require(VisitState.PAYING)
        self.payment_id = payment_id
        self.state = VisitState.RECEIPT

    def open_tool(self, tool: VisitState) -> None:
        """Open a staff tool (the queue or the report) between members."""
        if tool not in TOOLS:
            raise VisitFlowError(state=str(tool))
        self._require(VisitState.FIND_MEMBER, *TOOLS)
        self.state = tool

    def back(self) -> None:
        """One step back: from paying or a member page to the member, from the member or a
        tool to the search."""
        self._require(VisitState.PAYING, VisitState.MEMBER, *TOOLS, *MEMBER_PAGES)
        if self.state is VisitState.PAYING or self.state in MEMBER_PAGES:
            self.state = VisitState.MEMBER
        else:
            self._forget_member()
            self.state = VisitState.FIND_MEMBER

    def finish(self) -> None:
        """The member is done (or the visit timed out): forget them; the start screen waits
        for the next one."""
        self._require(VisitState.RECEIPT, VisitState.MEMBER, VisitState.PAYING,
                      VisitState.FIND_MEMBER, VisitState.WELCOME, *MEMBER_PAGES)
        self._forget_member()
        self.state = VisitState.WELCOME

    def sign_out(self) -> None:
        self._forget_member()
        self.state = VisitState.SIGNED_OUT
