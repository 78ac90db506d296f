"""The ledger as CSV for admins: one row per entry in the period, streamed."""

from __future__ import annotations

import csv
import io

import pytest

from generations import usage
from generations.models import LedgerEntry
from tests.rows import generation, ledger_entry, march_noon
from tests.support import make_user, page_text

pytestmark = pytest.mark.django_db

MARCH = "start=2026-03-01&end=2026-03-31"


def read(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_a_member_is_told_it_is_the_admins_page(alice_client):
    response = alice_client.get(f"/usage/export.csv?{MARCH}")
    assert response.status_code == 403
    assert "<h1>Not for your account</h1>" in page_text(response)
    assert '<a href="/">Back to the studio</a>' in page_text(response)


def test_it_requires_sign_in(client):
    assert client.get(f"/usage/export.csv?{MARCH}").status_code == 302


def test_it_streams_csv_as_a_download(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/export.csv?{MARCH}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == (
        'attachment; filename="credits-2026-03-01-to-2026-03-31.csv"'
    )


def test_it_starts_with_a_header_row(march_ledger, charlie_client):
    rows = read(charlie_client.get(f"/usage/export.csv?{MARCH}"))
    assert rows[0] == [
        "date and time (UTC)",
        "member",
        "generation id",
        "model",
        "kind",
        "credits",
    ]


def test_it_writes_one_row_per_ledger_entry_oldest_first(march_ledger, charlie_client):
    rows = read(charlie_client.get(f"/usage/export.csv?{MARCH}"))[1:]
    assert len(rows) == LedgerEntry.objects.count() == 7
    entries = LedgerEntry.objects.order_by("created_at", "pk")
    assert [int(row[2]) for row in rows] == [e.generation_id for e in entries]
    assert rows[0][0] == "2026-03-10 12:00:00"
    assert rows[0][1:] == ["alice", rows[0][2], "google-imagen4", "reserve", "8"]
    assert [row[4] for row in rows].count("release") == 1


def test_it_leaves_out_entries_outside_the_period(march_ledger, charlie_client):
    rows = read(charlie_client.get("/usage/export.csv?start=2026-03-11&end=2026-03-11"))[1:]
    assert {row[0][:10] for row in rows} == {"2026-03-11"}
    assert len(rows) == 4


def test_it_writes_times_in_the_studios_time_zone(march_ledger, charlie_client, settings):
    settings.TIME_ZONE = "Asia/Bangkok"  # the ledger's noons (UTC) are 19:00 there
    rows = read(charlie_client.get(f"/usage/export.csv?{MARCH}"))
    assert rows[0][0] == "date and time (Asia/Bangkok)"
    assert rows[1][0] == "2026-03-10 19:00:00"


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_it_guards_member_names_against_formula_injection(charlie_client, name):
    """A cell that starts with = + - @ (or a tab or carriage return) would run as a formula in
    a spreadsheet: it goes out with a quote in front."""
    member = make_user(name)
    ledger_entry(generation(member), "reserve", 8, march_noon(10))
    rows = read(charlie_client.get(f"/usage/export.csv?{MARCH}"))
    assert rows[1][1] == f"'{name}"


def test_a_plain_name_goes_out_as_it_is(charlie_client):
    member = make_user("dana.o+studio")
    ledger_entry(generation(member), "reserve", 8, march_noon(10))
    assert read(charlie_client.get(f"/usage/export.csv?{MARCH}"))[1][1] == "dana.o+studio"


def test_an_empty_period_is_the_header_alone(charlie_client):
    assert len(read(charlie_client.get(f"/usage/export.csv?{MARCH}"))) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-02-30&end=2026-03-01", "Dates are written YYYY-MM-DD"),
        ("start=march&end=2026-03-01", "Dates are written YYYY-MM-DD"),
        ("start=2026-03-12&end=2026-03-01", "The start comes after the end."),
        ("start=1999-01-01&end=1999-01-02", "Dates from 2000-01-01 to 2999-12-31 only."),
        ("start=2024-01-01&end=2026-01-01", "At most a year at once."),
        ("start=2026-03-01%00&end=2026-03-02", "Dates are written YYYY-MM-DD"),
    ],
)
def test_it_refuses_bad_dates_with_a_400_and_says_why(charlie_client, query, message):
    response = charlie_client.get(f"/usage/export.csv?{query}")
    assert response.status_code == 400
    assert not response.streaming
    assert message in response.content.decode()


def test_it_reads_the_ledger_a_chunk_at_a_time(march_ledger, charlie_client, monkeypatch):
    monkeypatch.setattr(usage, "EXPORT_CHUNK_ROWS", 2)  # 7 entries: four chunks
    rows = read(charlie_client.get(f"/usage/export.csv?{MARCH}"))[1:]
    assert [(row[1], row[3], row[4]) for row in rows] == [
        ("alice", "google-imagen4", "reserve"),
        ("alice", "google-imagen4", "charge"),
        ("alice", "google-imagen4", "reserve"),
        ("alice", "google-imagen4", "charge"),
        ("bob", "google-imagen4-ultra", "reserve"),
        ("bob", "google-imagen4-ultra", "release"),
        ("alice", "google-imagen4", "reserve"),
    ]
