"""The credit reports: the team's for admins, a member's own for them. What the ledger says per
member, per model and per day for a period, and whether Rivya's balance moved as much.

Every figure comes from the ledger (``LedgerEntry``), read once per page as cells of (day,
member, model); the tables, the totals and the chart are added up from those cells in Python (at
most 366 days by members by models cells), so a page reads the period's ledger rows once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from generations import credits
from generations.errors import ADMIN_CODES, admin_words
from generations.forms import western_digits
from generations.models import (
    BalanceReading,
    Generation,
    LedgerEntry,
    MemberBudget,
    Status,
)

MAX_DAYS = 366
# Dates the report answers for. Far enough from date.min and date.max that a day's bounds, in
# any time zone, are still a datetime (9999-12-31 plus a day is not).
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)

MEMBER = "user__username"
MODEL = "generation__model"
DAY = "day"


class BadPeriod(ValueError):
    """A query whose dates the report cannot follow; ``str()`` says why, in words for people."""


@dataclass(frozen=True)
class Period:
    """The days a report covers: at most a year, within EARLIEST and LATEST. A page that could
    not follow its query shows the last 30 days and says why in ``error``."""

    start: date
    end: date  # inclusive
    error: str = ""

    @classmethod
    def last_30_days(cls, today: date, error: str = "") -> Period:
        return cls(today - timedelta(days=29), today, error)

    @classmethod
    def from_query(cls, query: QueryDict, *, today: date) -> Period:
        """The query's period, or the last 30 days with a message saying why not."""
        try:
            return cls.parse(query, today=today)
        except BadPeriod as exc:
            return cls.last_30_days(
                today, _("%(reason)s Showing the last 30 days.") % {"reason": exc}
            )

    @classmethod
    def parse(cls, query: QueryDict, *, today: date) -> Period:
        """The query's ``start`` and ``end`` (YYYY-MM-DD; either missing is taken from the last
        30 days), or BadPeriod."""
        default = cls.last_30_days(today)
        try:
            start = date.fromisoformat(
                western_digits(query.get("start") or default.start.isoformat())
            )
            end = date.fromisoformat(western_digits(query.get("end") or default.end.isoformat()))
        except ValueError:
            raise BadPeriod(_("Dates are written YYYY-MM-DD, for example 2026-03-31.")) from None
        if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
            raise BadPeriod(
                _("Dates from %(first)s to %(last)s only.")
                % {"first": EARLIEST.isoformat(), "last": LATEST.isoformat()}
            )
        if start > end:
            raise BadPeriod(_("The start comes after the end."))
        if (end - start).days >= MAX_DAYS:
            raise BadPeriod(_("At most a year at once."))
        return cls(start, end)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tz),
        )

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class Preset:
    label: str
    start: date
    end: date


def presets(today: date) -> list[Preset]:
    """The periods an admin asks for most, each a pair of dates for the URL."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [
        Preset(_("This month"), first, today),
        Preset(_("Last month"), last_month_end.replace(day=1), last_month_end),
        *(
            Preset(_("Last %(days)d days") % {"days": days}, today - timedelta(days - 1), today)
            for days in (7, 30, 90)
        ),
    ]


def history_link(period: Period, member: str, status: str = Status.FAILED) -> str:
    """The shared history filtered to ``member``'s generations in ``status`` made in the period:
    where a count on a usage page leads."""
    query = {
        "member": member,
        "status": status,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
    }
    return f"{reverse('generations:home')}?{urlencode(query)}"


# -- Reading the ledger ----------------------------------------------------------------------------


def _total(kind: str) -> Coalesce:
    return Coalesce(Sum("credits", filter=Q(kind=kind)), 0)


def ledger(period: Period, user: AbstractBaseUser | None = None) -> QuerySet[LedgerEntry]:
    """The period's ledger entries, of one member when ``user`` is given."""
    start, end = period.bounds
    rows = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    return rows if user is None else rows.filter(user_id=user.pk)


def _outcomes(period: Period, user: AbstractBaseUser | None) -> dict[str, dict[str, int]]:
    """Generations succeeded and failed per member, for those made in the period."""
    start, end = period.bounds
    rows = Generation.objects.filter(created_at__gte=start, created_at__lt=end)
    if user is not None:
        rows = rows.filter(user_id=user.pk)
    counted = rows.values(MEMBER).annotate(
        succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
    )
    return {
        str(row[MEMBER]): {"succeeded": row["succeeded"], "failed": row["failed"]}
        for row in counted
    }


def _held(period: Period, user: AbstractBaseUser | None) -> dict[str, int]:
    """Credits held per member: reserved in the period and not settled yet (images still being
    made). A settlement is written after its reservation, so only settlements from the period's
    start on need looking at (an index range, instead of every settlement ever made)."""
    start, _ = period.bounds
    settled = LedgerEntry.objects.filter(
        generation_id=OuterRef("generation_id"),
        phase=LedgerEntry.Phase.SETTLEMENT,
        created_at__gte=start,
    )
    open_reservations = (
        ledger(period, user).filter(phase=LedgerEntry.Phase.RESERVATION).exclude(Exists(settled))
    )
    rows = open_reservations.values(MEMBER).annotate(held=Sum("credits")).order_by()
    return {str(row[MEMBER]): int(row["held"]) for row in rows}


SUMS = ("reserved", "charged", "released")


def _ledger_cells(period: Period, user: AbstractBaseUser | None) -> list[dict[str, Any]]:
    """The period's credits per (day, member, model): one pass serves every table and the chart."""
    cells = (
        ledger(period, user)
        .annotate(day=TruncDate("created_at"))
        .values(DAY, MEMBER, MODEL)
        .annotate(reserved=_total("reserve"), charged=_total("charge"), released=_total("release"))
        .order_by()
    )
    return [dict(cell) for cell in cells]


def roll_up(cells: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The cells added up per value of ``key`` (a day, a member or a model), in its order."""
    rows: dict[Any, dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault(cell[key], {key: cell[key], **dict.fromkeys(SUMS, 0)})
        for name in SUMS:
            row[name] += int(cell[name])
    return [rows[k] for k in sorted(rows)]


def budgets(usernames: list[str]) -> dict[str, credits.Standing]:
    """Each member's monthly budget as it stands this month (``credits.standing_of``): its
    limit and what is used of it. One query."""
    default = settings.DEFAULT_MONTHLY_BUDGET or None
    rows = MemberBudget.objects.filter(user__username__in=usernames).select_related("user")
    found = {row.user.get_username(): row for row in rows}
    return {name: credits.standing_of(found.get(name), default) for name in usernames}


def report(period: Period, user: AbstractBaseUser | None = None) -> dict[str, Any]:
    """The period's figures: per member (with their budget and outcomes), per model, per day, the
    totals, and the (day, member, model) cells the chart is drawn from. Of one member when
    ``user`` is given."""
    cells = _ledger_cells(period, user)
    outcomes, held = _outcomes(period, user), _held(period, user)
    members = roll_up(cells, MEMBER)
    budgets_of = budgets([str(row[MEMBER]) for row in members])
    by_member = [
        {
            **row,
            **outcomes.get(str(row[MEMBER]), {"succeeded": 0, "failed": 0}),
            "held": held.get(str(row[MEMBER]), 0),
            "budget": budgets_of[str(row[MEMBER])],
        }
        for row in members
    ]
    by_day = roll_up(cells, DAY)
    # The period's totals are the sum of its days: no further pass over the ledger.
    totals: dict[str, Any] = {name: sum(day[name] for day in by_day) for name in SUMS}
    totals["held"] = sum(held.values())
    totals["succeeded"] = sum(row["succeeded"] for row in by_member)
    totals["failed"] = sum(row["failed"] for row in by_member)
    return {
        "by_member": by_member,
        "by_model": roll_up(cells, MODEL),
        "by_day": by_day,
        "totals": totals,
        "cells": cells,
    }


# -- Does Rivya agree? -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """The period's first and last balance readings, and what our ledger says left the account
    between them: credits held (sent, or about to be) less those given back. Rivya takes a
    generation's credits when it starts one and returns them when it fails, so both sides count
    the same events; a charge that differs from its hold is not counted (the Imagen 4 models
    have fixed prices)."""

    first: BalanceReading
    last: BalanceReading
    ledger: int

    @property
    def rivya(self) -> int:
        """How far Rivya's balance fell (negative when it rose: credits were added)."""
        return self.first.credits - self.last.credits

    @property
    def difference(self) -> int:
        """Positive: Rivya's balance fell by more than our ledger accounts for."""
        return self.rivya - self.ledger

    @property
    def gap(self) -> int:
        return abs(self.difference)


def agreement(period: Period) -> Agreement | None:
    """Rivya's balance against our ledger, or None without two readings in the period."""
    start, end = period.bounds
    readings = BalanceReading.objects.filter(at__gte=start, at__lt=end)
    first, last = readings.order_by("at").first(), readings.order_by("-at").first()
    if first is None or last is None or first.at == last.at:
        return None
    between = LedgerEntry.objects.filter(created_at__gt=first.at, created_at__lte=last.at)
    sums = between.aggregate(held=_total("reserve"), given_back=_total("release"))
    return Agreement(first, last, int(sums["held"]) - int(sums["given_back"]))


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


# -- The export: one CSV row per ledger entry, streamed ------------------------------------------

EXPORT_CHUNK_ROWS = 2000
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_header() -> list[str]:
    zone = timezone.get_current_timezone_name()
    return [f"date and time ({zone})", "member", "generation id", "model", "kind", "credits"]


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a quote before a formula's start
    (a username may well be "@alice" or "=1+1")."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def export_rows(period: Period) -> Iterator[list[Any]]:
    """The period's ledger entries, oldest first, read in chunks (a server-side cursor on
    PostgreSQL, fetchmany on SQLite): memory stays flat however long the period.

    The entries are read alone, straight down the ``created_at`` index, and each chunk's models
    and members are then looked up by key: with the joins in the one query PostgreSQL hashed and
    sorted the whole period before its first row. And they are read inside a transaction: outside
    one, Django declares the cursor WITH HOLD, which PostgreSQL fills with every row at the
    commit that follows (2 s before the first row for a year of 1,000,000 entries)."""
    entries = (
        ledger(period)
        .order_by("created_at", "pk")
        .values_list("created_at", "user_id", "generation_id", "kind", "credits")
    )
    names: dict[int, str] = {}
    with transaction.atomic():
        rows = entries.iterator(EXPORT_CHUNK_ROWS)
        while chunk := list(islice(rows, EXPORT_CHUNK_ROWS)):
            pks = {row[2] for row in chunk}
            models = dict(Generation.objects.filter(pk__in=pks).values_list("pk", "model"))
            if unknown := {row[1] for row in chunk} - names.keys():
                names |= dict(User.objects.filter(pk__in=unknown).values_list("pk", "username"))
            for at, user_id, generation_id, kind, amount in chunk:
                when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S")
                member, model = safe_cell(names[user_id]), safe_cell(models[generation_id])
                yield [when, member, generation_id, model, kind, amount]


class _Line:
    """A file for csv.writer that hands back each line instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def export_csv(period: Period) -> Iterator[str]:
    """The export's text: the header at once, then the rows a chunk at a time."""
    writer = csv.writer(_Line())
    yield writer.writerow(export_header())
    lines: list[str] = []
    for row in export_rows(period):
        lines.append(writer.writerow(row))
        if len(lines) == EXPORT_CHUNK_ROWS:
            yield "".join(lines)
            lines = []
    yield "".join(lines)
