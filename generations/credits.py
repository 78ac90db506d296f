"""The credit ledger and members' budgets. Every change is a conditional update or a row that a
unique constraint allows once, so no step can count twice, whichever worker gets there first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import formats
from django.utils.translation import ngettext

from generations.models import (
    Generation,
    LedgerEntry,
    MemberBudget,
    MonthlyBudget,
    TeamBudget,
    this_month,
)

B = TypeVar("B", bound=MonthlyBudget)

# The share of a budget past which the form warns and the admins get a first alert.
WARN_PERCENT = 80


def reaches(used: int, limit: int, percent: int) -> bool:
    """``used`` is at least ``percent`` % of ``limit`` (in whole numbers, no rounding)."""
    return used * 100 >= limit * percent


@dataclass(frozen=True)
class Standing:
    """A budget as it stands this month: its limit (None for none), what is used, the month."""

    limit: int | None
    used: int
    period: date

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def over(self, cost: int) -> bool:
        """``cost`` would be refused: it does not fit in what is left."""
        return self.limit is not None and self.used + cost > self.limit

    def near(self, cost: int) -> bool:
        """``cost`` fits, but takes the budget to WARN_PERCENT or past it."""
        limit = self.limit
        return (
            limit is not None
            and not self.over(cost)
            and reaches(self.used + cost, limit, WARN_PERCENT)
        )


def standing_of(budget: MonthlyBudget | None, default_limit: int | None = None) -> Standing:
    """A row's standing now: a row of an older month has used nothing of this one."""
    period = this_month()
    if budget is None:
        return Standing(default_limit, 0, period)
    if budget.period < period:
        return Standing(budget.monthly_limit, 0, period)
    return Standing(budget.monthly_limit, budget.used, budget.period)


def member_standing(user: AbstractBaseUser) -> Standing:
    """The member's budget as the next reservation will find it. One query; writes nothing (a
    member without a row gets ``DEFAULT_MONTHLY_BUDGET`` at their first reservation)."""
    row = MemberBudget.objects.filter(user_id=user.pk).first()
    return standing_of(row, settings.DEFAULT_MONTHLY_BUDGET or None)


@dataclass(frozen=True)
class OverBudget(Exception):
    """A reservation refused: it would pass the member's budget, or the team's cap."""

    cost: int
    used: int
    limit: int
    period: date
    team: bool = False

    @property
    def message(self) -> str:
        numbers = {
            "cost": self.cost,
            "left": max(0, self.limit - self.used),
            "limit": self.limit,
            "month": formats.date_format(self.period, "F"),
        }
        if self.team:
            text = ngettext(
                "This needs %(cost)s credit; the team has %(left)s of its %(limit)s left in "
                "%(month)s. Ask an admin to raise the team's monthly cap.",
                "This needs %(cost)s credits; the team has %(left)s of its %(limit)s left in "
                "%(month)s. Ask an admin to raise the team's monthly cap.",
                self.cost,
            )
        else:
            text = ngettext(
                "This needs %(cost)s credit; %(left)s of %(limit)s are left in %(month)s. "
                "Ask an admin to raise your budget.",
                "This needs %(cost)s credits; %(left)s of %(limit)s are left in %(month)s. "
                "Ask an admin to raise your budget.",
                self.cost,
            )
        return text % numbers


def _this_months_row(
    model: type[B], lookup: Mapping[str, object], defaults: Mapping[str, object]
) -> B:
    period = this_month()
    budget, _ = model._default_manager.get_or_create(
        **lookup, defaults={"period": period, **defaults}
    )
    if budget.period < period:
        # A new month starts from zero; only the first of racing requests makes the change.
        model._default_manager.filter(pk=budget.pk, period__lt=period).update(period=period, used=0)
        budget.refresh_from_db()
    return budget


def budget_for(user: AbstractBaseUser) -> MemberBudget:
    defaults = {"monthly_limit": settings.DEFAULT_MONTHLY_BUDGET or None}
    return _this_months_row(MemberBudget, {"user_id": user.pk}, defaults)


def team_budget() -> TeamBudget:
    return _this_months_row(TeamBudget, {"pk": TeamBudget.ID}, {})


def _take(budget: MonthlyBudget, cost: int, *, team: bool) -> None:
    """Take ``cost`` from one budget in one conditional update, or raise :class:`OverBudget`."""
    within = Q(monthly_limit__isnull=True) | Q(monthly_limit__gte=F("used") + cost)
    rows = type(budget)._default_manager.filter(Q(pk=budget.pk) & within)
    if not rows.update(used=F("used") + cost):
        budget.refresh_from_db()
        raise OverBudget(cost, budget.used, budget.monthly_limit or 0, budget.period, team=team)


def debit_budget(user: AbstractBaseUser, cost: int) -> None:
    """Take ``cost`` from the member's monthly budget and from the team's monthly cap, or from
    neither (:class:`OverBudget` says which refused, with the numbers). Each is a conditional
    update, so concurrent reservations wait for each other's row and none passes a limit; the
    two commit together or not at all (a savepoint). Every path that changes both rows takes
    the member's first, then the team's, so two transactions never wait on each other."""
    member, team = budget_for(user), team_budget()
    with transaction.atomic():
        _take(member, cost, team=False)
        _take(team, cost, team=True)


def reserve(generations: Sequence[Generation]) -> None:
    """Reserve the credits of one request: debit the member's budget and the team's cap by the
    sum of the rows' ``credits_reserved`` (saved with them), each in one conditional update
    (:func:`debit_budget`), then write one reservation per row. All of them or none: call
    inside the creating transaction, which :class:`OverBudget` rolls back. The rows are one
    member's."""
    debit_budget(generations[0].user, sum(g.credits_reserved for g in generations))
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            generation=generation,
            user_id=generation.user_id,
            phase=LedgerEntry.Phase.RESERVATION,
            kind=LedgerEntry.Kind.RESERVE,
            credits=generation.credits_reserved,
        )
        for generation in generations
    )


def _settle(generation: Generation, kind: str, credits: int, budget_delta: int) -> bool:
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                generation=generation,
                user_id=generation.user_id,
                phase=LedgerEntry.Phase.SETTLEMENT,
                kind=kind,
                credits=credits,
            )
            _adjust_budget(generation, budget_delta)
    except IntegrityError:
        return False  # already settled by another worker: one settlement per generation
    return True


def _adjust_budget(generation: Generation, delta: int) -> None:
    """Move the member's budget and the team's cap by ``delta`` (member first, as in
    :func:`debit_budget`)."""
    if delta:
        for rows in (
            MemberBudget.objects.filter(user_id=generation.user_id),
            TeamBudget.objects.filter(pk=TeamBudget.ID),
        ):
            rows.update(used=Greatest(F("used") + delta, 0))


def charge(generation: Generation, credits: int) -> bool:
    """Settle what Rivya charged. For a generation we gave up on whose result came after all,
    the release we wrote becomes the one charge (never a second settlement). Returns False if
    the generation was charged already."""
    if _settle(generation, LedgerEntry.Kind.CHARGE, credits, credits - generation.credits_reserved):
        return True
    return _release_becomes_charge(generation, credits)


def release(generation: Generation) -> bool:
    """Give back the reservation of a failed generation. False if it was settled already."""
    reserved = generation.credits_reserved
    return _settle(generation, LedgerEntry.Kind.RELEASE, reserved, -reserved)


def _release_becomes_charge(generation: Generation, credits: int) -> bool:
    """The release gave the reservation back to the member's budget; the charge takes
    ``credits`` from it again."""
    with transaction.atomic():
        changed = LedgerEntry.objects.filter(
            generation=generation,
            phase=LedgerEntry.Phase.SETTLEMENT,
            kind=LedgerEntry.Kind.RELEASE,
        ).update(kind=LedgerEntry.Kind.CHARGE, credits=credits)
        if changed:
            _adjust_budget(generation, credits)
    return bool(changed)
