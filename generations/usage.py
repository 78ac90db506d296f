"""The admins' credit report: what the ledger says, per member and per day, for a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.http import QueryDict
from django.utils import timezone

from generations.errors import ADMIN_CODES, admin_words
from generations.forms import western_digits
from generations.models import Generation, LedgerEntry, Status

MAX_DAYS = 366
# Dates the report answers for. Far enough from date.min and date.max that a day's bounds, in
# any time zone, are still a datetime (9999-12-31 plus a day is not).
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    """The days a report covers. Whatever the query says, the period is a valid one (at most a
    year, within EARLIEST and LATEST); a query it could not follow leaves a message in ``error``
    and gives the last 30 days."""

    start: date
    end: date  # inclusive
    error: str = ""

    @classmethod
    def from_query(cls, query: QueryDict, *, today: date) -> Period:
        default = cls(today - timedelta(days=29), today)
        if not query.get("start") and not query.get("end"):
            return default
        try:
            start = date.fromisoformat(
                western_digits(query.get("start") or default.start.isoformat())
            )
            end = date.fromisoformat(western_digits(query.get("end") or default.end.isoformat()))
        except ValueError:
            return cls(
                default.start,
                default.end,
                "Dates are written YYYY-MM-DD; showing the last 30 days.",
            )
        if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
            return cls(
                default.start,
                default.end,
                f"Dates from {EARLIEST.isoformat()} to {LATEST.isoformat()} only; "
                "showing the last 30 days.",
            )
        if start > end:
            return cls(
                default.start,
                default.end,
                "The start comes after the end; showing the last 30 days.",
            )
        if (end - start).days >= MAX_DAYS:
            return cls(end - timedelta(days=MAX_DAYS - 1), end, "At most a year at once.")
        return cls(start, end)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tz),
        )


def _total(kind: str) -> Coalesce:
    return Coalesce(Sum("credits", filter=Q(kind=kind)), 0)


def _ledger(period: Period) -> QuerySet[LedgerEntry]:
    start, end = period.bounds
    return LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)


def _outcomes(period: Period) -> dict[str, dict[str, int]]:
    """Generations succeeded and failed per member, for those made in the period."""
    start, end = period.bounds
    rows = (
        Generation.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("user__username")
        .annotate(
            succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
        )
    )
    return {
        str(row["user__username"]): {"succeeded": row["succeeded"], "failed": row["failed"]}
        for row in rows
    }


def _in_flight(period: Period) -> int:
    """Credits reserved in the period and not settled yet. A settlement is written after its
    reservation, so only settlements from the period's start on need looking at (an index
    range, instead of every settlement ever made)."""
    start, _ = period.bounds
    settled = LedgerEntry.objects.filter(
        generation_id=OuterRef("generation_id"),
        phase=LedgerEntry.Phase.SETTLEMENT,
        created_at__gte=start,
    )
    open_reservations = (
        _ledger(period).filter(phase=LedgerEntry.Phase.RESERVATION).exclude(Exists(settled))
    )
    return int(open_reservations.aggregate(total=Coalesce(Sum("credits"), 0))["total"])


SUMS = ("reserved", "charged", "released")


def _ledger_cells(period: Period) -> list[dict[str, Any]]:
    """The period's credits per (day, member): one pass over the ledger serves both tables."""
    cells = (
        _ledger(period)
        .annotate(day=TruncDate("created_at"))
        .values("day", "user__username")
        .annotate(reserved=_total("reserve"), charged=_total("charge"), released=_total("release"))
        .order_by()
    )
    return [dict(cell) for cell in cells]


def _roll_up(cells: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows: dict[Any, dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault(cell[key], {key: cell[key], **dict.fromkeys(SUMS, 0)})
        for name in SUMS:
            row[name] += int(cell[name])
    return [rows[k] for k in sorted(rows)]


def report(period: Period) -> dict[str, Any]:
    cells = _ledger_cells(period)
    outcomes = _outcomes(period)
    by_member: list[dict[str, Any]] = [
        {**row, **outcomes.get(str(row["user__username"]), {"succeeded": 0, "failed": 0})}
        for row in _roll_up(cells, "user__username")
    ]
    by_day = _roll_up(cells, "day")
    # The period's totals are the sum of its days: no further pass over the ledger.
    totals: dict[str, Any] = {name: sum(day[name] for day in by_day) for name in SUMS}
    totals["in_flight"] = _in_flight(period)
    return {
        "by_member": by_member,
        "by_day": by_day,
        "totals": totals,
        "peak": max((int(d["charged"]) for d in by_day), default=0),
    }


def recent_admin_problems(since: datetime) -> list[dict[str, Any]]:
    """Failures an admin must act on (the key, the scope, the account's credits)."""
    rows = (
        Generation.objects.filter(error_code__in=ADMIN_CODES, finished_at__gte=since)
        .values("error_code")
        .annotate(count=Count("pk"))
        .order_by("-count")
    )
    return [
        {
            **row,
            "message": admin_words(row["error_code"]),
        }
        for row in rows
    ]
