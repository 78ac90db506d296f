"""The credit ledger and members' budgets. Every change is a conditional update or a row that a
unique constraint allows once, so no step can count twice, whichever worker gets there first."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest

from generations.models import Generation, LedgerEntry, MemberBudget, this_month


@dataclass(frozen=True)
class OverBudget(Exception):
    cost: int
    used: int
    limit: int

    @property
    def message(self) -> str:
        left = max(0, self.limit - self.used)
        return (
            f"This costs {self.cost} credits, but you have {left} of your {self.limit} credits "
            f"left this month. Ask an admin to raise your budget."
        )


def budget_for(user: AbstractBaseUser) -> MemberBudget:
    period = this_month()
    budget, _ = MemberBudget.objects.get_or_create(
        user_id=user.pk,
        defaults={"period": period, "monthly_limit": settings.DEFAULT_MONTHLY_BUDGET or None},
    )
    if budget.period < period:
        # A new month starts from zero; only the first of racing requests makes the change.
        MemberBudget.objects.filter(pk=budget.pk, period__lt=period).update(period=period, used=0)
        budget.refresh_from_db()
    return budget


def debit_budget(user: AbstractBaseUser, cost: int) -> None:
    """Take ``cost`` from the member's monthly budget in one conditional update, or refuse."""
    budget = budget_for(user)
    within = Q(monthly_limit__isnull=True) | Q(monthly_limit__gte=F("used") + cost)
    if not MemberBudget.objects.filter(Q(pk=budget.pk) & within).update(used=F("used") + cost):
        budget.refresh_from_db()
        raise OverBudget(cost=cost, used=budget.used, limit=budget.monthly_limit or 0)


def reserve(generation: Generation) -> None:
    """Debit the member's budget by the generation's ``credits_reserved`` (saved with the row)
    and write the reservation; call inside the creating transaction."""
    debit_budget(generation.user, generation.credits_reserved)
    LedgerEntry.objects.create(
        generation=generation,
        user_id=generation.user_id,
        phase=LedgerEntry.Phase.RESERVATION,
        kind=LedgerEntry.Kind.RESERVE,
        credits=generation.credits_reserved,
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
    if delta:
        MemberBudget.objects.filter(user_id=generation.user_id).update(
            used=Greatest(F("used") + delta, 0)
        )


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
