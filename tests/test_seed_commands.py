"""The benchmark seeding commands: many rows, a few shared files, and a re-run that tops up."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from generations.models import Generation, LedgerEntry
from tests.rows import generation, ledger_entry

pytestmark = pytest.mark.django_db


def test_it_seeds_history_rows_that_share_a_few_image_files():
    call_command("seed_history", count=12, batch=5)
    rows = Generation.objects.filter(prompt__startswith="Seeded for benchmarks")
    assert rows.count() == 12
    assert rows.exclude(image="").values("image").distinct().count() <= 4  # failed: none


def test_it_tops_history_up_instead_of_adding_again():
    call_command("seed_history", count=6)
    call_command("seed_history", count=10)
    assert Generation.objects.filter(prompt__startswith="Seeded for benchmarks").count() == 10


def test_it_seeds_a_reservation_and_a_settlement_per_ledger_generation():
    call_command("seed_ledger", rows=20, days=10, batch=6)
    entries = LedgerEntry.objects.filter(generation__prompt__startswith="Seeded ledger row")
    assert entries.count() == 20
    assert entries.filter(phase="reservation").count() == 10
    assert entries.filter(phase="settlement").count() == 10


def test_it_spreads_ledger_rows_over_the_days_asked():
    call_command("seed_ledger", rows=40, days=10)
    days = LedgerEntry.objects.dates("created_at", "day")
    assert len(days) >= 9


def test_it_refuses_a_negative_count():
    with pytest.raises(CommandError):
        call_command("seed_history", count=-1)


def matches(phrase: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM generation_search WHERE generation_search MATCH %s",
            [f'"{phrase}"'],
        )
        return int(cursor.fetchone()[0])


def test_it_leaves_the_search_index_whole_on_sqlite(alice):
    if connection.vendor != "sqlite":
        pytest.skip("the search index table is SQLite's")
    call_command("seed_ledger", rows=20, days=10, batch=6)
    generation(alice, prompt="A lighthouse made after seeding")
    assert matches("Seeded ledger row") == 10
    assert matches("lighthouse made") == 1  # the per-row trigger is back


def test_it_moves_the_id_sequences_past_the_seeded_rows(alice):
    call_command("seed_ledger", rows=20, days=10)
    ledger_entry(generation(alice), "reserve", 8)  # would clash on PostgreSQL otherwise
    assert LedgerEntry.objects.count() == 21
