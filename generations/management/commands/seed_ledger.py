"""Fill the credit ledger with many rows for the usage benchmarks (never for real data).

Each seeded generation gets a reservation and a settlement (nine charges in ten, the rest
released), so ``--rows`` ledger rows make half as many generations, of the three Imagen 4 models
in turn. Rows are spread evenly over the last ``--days`` days; running it again tops up to
``--rows``.

The rows go in with COPY on PostgreSQL and one ``executemany`` per batch on SQLite, ids given
(the sequence is moved past them after): 1,000,000 ledger rows take seconds to a minute, where
model instances and ``bulk_create`` took many minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from generations import search_index
from generations.management.commands.seed_history import seed_members
from generations.models import Generation, LedgerEntry, Status

SEED_PREFIX = "Seeded ledger row"
MEMBERS = 20
MODELS = (("google-imagen4", 8), ("google-imagen4-fast", 4), ("google-imagen4-ultra", 12))
SETTLED = timedelta(seconds=5)


class Command(BaseCommand):
    help = "Make --rows ledger rows (and half as many generations) for the usage benchmark."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--batch", type=int, default=50_000)

    def handle(self, *args: Any, rows: int, days: int, batch: int, **options: Any) -> None:
        if rows < 0 or days < 1 or batch < 2:
            raise CommandError("--rows must be 0 or more, --days at least 1, --batch at least 2")
        have = LedgerEntry.objects.filter(generation__prompt__startswith=SEED_PREFIX).count()
        wanted = (rows - have) // 2
        if wanted <= 0:
            self.stdout.write(f"{have} seeded ledger rows already; nothing to add.")
            return
        plan = Plan(
            members=[m.pk for m in seed_members(MEMBERS)],
            now=timezone.now(),
            step=timedelta(days=days) / max(1, rows // 2),
            first_generation_id=(Generation.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
            first_entry_id=(LedgerEntry.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
        )
        numbers = iter(range(have // 2, have // 2 + wanted))
        with transaction.atomic(), search_indexed_at_once(plan.first_generation_id):
            while chunk := list(islice(numbers, batch // 2)):
                insert(Generation, GENERATION_COLUMNS, [plan.generation(n) for n in chunk])
                entries = [entry for n in chunk for entry in plan.entries(n)]
                insert(LedgerEntry, ENTRY_COLUMNS, entries)
            reset_sequences()
        self.stdout.write(f"Added {wanted * 2} seeded ledger rows ({have + wanted * 2} in all).")


GENERATION_COLUMNS = (
    "id", "uuid", "user_id", "form_token", "model", "prompt", "status", "credits_reserved",
    "credits_final", "error_code", "created_at", "updated_at", "finished_at",
)  # fmt: skip
ENTRY_COLUMNS = ("id", "generation_id", "user_id", "phase", "kind", "credits", "created_at")


@dataclass(frozen=True)
class Plan:
    """Seeded row number ``n`` as database values: its generation's and its two entries'."""

    members: list[int]
    now: datetime
    step: timedelta
    first_generation_id: int
    first_entry_id: int

    def generation(self, n: int) -> tuple[Any, ...]:
        model, credits = MODELS[n % len(MODELS)]
        when = db_time(self.now - self.step * n)
        failed = n % 10 == 0
        status = Status.FAILED.value if failed else Status.SUCCEEDED.value
        return (
            self.first_generation_id + n, db_uuid(uuid.uuid4()), self.member(n),
            db_uuid(uuid.uuid4()), model, f"{SEED_PREFIX} #{n}", status, credits,
            0 if failed else credits, "generation_failed" if failed else "", when, when, when,
        )  # fmt: skip

    def entries(self, n: int) -> Iterator[tuple[Any, ...]]:
        _, credits = MODELS[n % len(MODELS)]
        common = (self.first_generation_id + n, self.member(n))
        made = self.now - self.step * n
        settlement = "release" if n % 10 == 0 else "charge"
        first = self.first_entry_id + 2 * n
        yield (first, *common, "reservation", "reserve", credits, db_time(made))
        yield (first + 1, *common, "settlement", settlement, credits, db_time(made + SETTLED))

    def member(self, n: int) -> int:
        return self.members[n % len(self.members)]


@contextmanager
def search_indexed_at_once(first_id: int) -> Iterator[None]:
    """On SQLite, the search index takes the new generations in one statement at the end
    instead of one trigger call per row (four times faster in all). Inside the seeding
    transaction, so the index never misses a row that is there."""
    insert_trigger = "generation_search_insert"
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite" or insert_trigger not in trigger_names(cursor):
            yield
            return
        cursor.execute(f"DROP TRIGGER {insert_trigger}")
        yield
        cursor.execute(
            "INSERT INTO generation_search(rowid, prompt, negative_prompt)"
            " SELECT id, prompt, negative_prompt FROM generations_generation WHERE id >= %s",
            [first_id],
        )
        cursor.execute(search_index.SQLITE_TRIGGERS[insert_trigger])


def trigger_names(cursor: Any) -> set[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {row[0] for row in cursor.fetchall()}


def db_time(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def db_uuid(value: uuid.UUID) -> Any:
    return value if connection.vendor == "postgresql" else value.hex


def defaults(model: type[models.Model], given: Sequence[str]) -> tuple[list[str], tuple[Any, ...]]:
    """The columns of ``model`` not in ``given``, and their default values as the database
    takes them (a new instance's, so the model stays the one place they are said)."""
    blank = model()
    fields = [f for f in model._meta.concrete_fields if f.column not in given]
    values = tuple(f.get_db_prep_save(getattr(blank, f.attname), connection) for f in fields)
    return [str(f.column) for f in fields], values


def insert(model: type[models.Model], given: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``rows`` of the ``given`` columns into ``model``'s table, every other column at its
    default: COPY on PostgreSQL, else executemany."""
    rest, values = defaults(model, given)
    columns, rows = [*given, *rest], [row + values for row in rows]
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            # Names from the model's own table, never from input.
            insert_sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(insert_sql, rows)


def reset_sequences() -> None:
    """Move the id sequences past the ids given (PostgreSQL; SQLite takes the largest id)."""
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Generation, LedgerEntry]):
            cursor.execute(sql)
