"""Small helpers shared by the fault tests: making generations and reading both ledgers."""

from __future__ import annotations

from typing import Any

from generations.models import Generation, GenerationImage, LedgerEntry
from tests.support import new_generation

__all__ = ["new_generation"]


def ledger_of(generation: Generation) -> list[tuple[str, str, int]]:
    """Our side of the money: (phase, kind, credits), reservation first."""
    rows = LedgerEntry.objects.filter(generation_id=generation.pk).order_by("phase")
    return sorted(rows.values_list("phase", "kind", "credits"), key=lambda r: r[0] != "reservation")


def remote_tasks_for(sim, generation: Generation) -> list[Any]:
    """The simulator's side: every task it created under this generation's Idempotency-Key."""
    return list(sim.state.tasks_by_key(str(generation.uuid)))


def images_of(generation: Generation) -> int:
    return GenerationImage.objects.filter(generation_id=generation.pk).count()


RESERVED_AND_CHARGED = [("reservation", "reserve", 8), ("settlement", "charge", 8)]
RESERVED_AND_RELEASED = [("reservation", "reserve", 8), ("settlement", "release", 8)]
