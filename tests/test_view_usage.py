"""The admins' credit usage page: the ledger per member and per day, and the Rivya balance."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from generations import health
from generations.models import Status
from tests.rows import generation, ledger_entry
from tests.support import beat_refresh, kept_balance, rivya_failing_since

pytestmark = pytest.mark.django_db


def noon(day: int) -> datetime:
    return datetime(2026, 3, day, 12, 0, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def march_ledger(alice, bob):
    """alice: two images charged 8 each on the 10th and 11th; bob: 12 reserved and released on
    the 11th (a failure); alice: 8 still reserved on the 12th (in flight)."""
    for day in (10, 11):
        row = generation(alice, created_at=noon(day))
        ledger_entry(row, "reserve", 8, noon(day))
        ledger_entry(row, "charge", 8, noon(day))
    failed = generation(bob, Status.FAILED, credits_reserved=12, created_at=noon(11))
    ledger_entry(failed, "reserve", 12, noon(11))
    ledger_entry(failed, "release", 12, noon(11))
    pending = generation(alice, Status.PROCESSING, created_at=noon(12))
    ledger_entry(pending, "reserve", 8, noon(12))


def cells(body: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is ``first``."""
    match = re.search(rf"<tr><td>{re.escape(first)}</td>(.*?)</tr>", body)
    assert match, f"no row for {first}"
    return re.findall(r'<td class="num">(\d+)</td>', match.group(1))


def test_it_sends_a_member_to_the_admin_sign_in(alice_client):
    response = alice_client.get("/usage/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_it_requires_sign_in(client):
    response = client.get("/usage/")
    assert response.status_code == 302
    assert "/usage/" not in response.content.decode()


def test_it_shows_the_ledger_per_member(march_ledger, charlie_client):
    body = charlie_client.get("/usage/?start=2026-03-01&end=2026-03-31").content.decode()
    # Charged, reserved, released, succeeded, failed.
    assert cells(body, "alice") == ["16", "24", "0", "2", "0"]
    assert cells(body, "bob") == ["0", "12", "12", "0", "1"]


def test_it_shows_the_ledger_per_day(march_ledger, charlie_client):
    body = charlie_client.get("/usage/?start=2026-03-01&end=2026-03-31").content.decode()
    # Charged, reserved, released.
    assert cells(body, "Tue Mar 10") == ["8", "8", "0"]
    assert cells(body, "Wed Mar 11") == ["8", "20", "12"]
    assert cells(body, "Thu Mar 12") == ["0", "8", "0"]


def test_it_totals_the_period_and_what_is_in_flight(march_ledger, charlie_client):
    totals = charlie_client.get("/usage/?start=2026-03-01&end=2026-03-31").context["report"]
    assert totals["totals"] == {"charged": 16, "reserved": 36, "released": 12, "in_flight": 8}


def test_it_counts_only_the_period_asked_for(march_ledger, charlie_client):
    body = charlie_client.get("/usage/?start=2026-03-11&end=2026-03-11").content.decode()
    assert cells(body, "alice") == ["8", "8", "0", "1", "0"]
    assert "Mar 10" not in body
    assert "Mar 12" not in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-02-30", "Dates are written YYYY-MM-DD"),
        ("start=yesterday", "Dates are written YYYY-MM-DD"),
        ("start=2026-03-12&end=2026-03-01", "The start comes after the end"),
    ],
)
def test_it_explains_a_bad_date(charlie_client, query, message):
    response = charlie_client.get(f"/usage/?{query}")
    assert response.status_code == 200
    assert message in response.content.decode()
    period = response.context["period"]
    assert period.end == timezone.localdate()
    assert period.start == timezone.localdate() - timedelta(days=29)


def test_it_shows_the_balance_beat_last_read(sim, charlie_client):
    sim.state.set_credits(4321)
    beat_refresh()
    body = charlie_client.get("/usage/").content.decode()
    assert "Rivya balance: <strong>4,321</strong> credits" in body


def test_it_says_the_balance_is_not_known_before_beat_read_one(charlie_client):
    response = charlie_client.get("/usage/")
    assert response.status_code == 200
    assert "The Rivya balance is not known yet: the studio has not heard it from Rivya." in (
        response.content.decode()
    )


# -- Rivya's health, for admins ------------------------------------------------------------------


def test_it_says_when_an_old_balance_was_read(charlie_client):
    health.keep(health.BALANCE, {"credits": 1234}, at=timezone.now() - timedelta(hours=1))
    body = charlie_client.get("/usage/").content.decode()
    read_at = timezone.localtime(kept_balance().at).strftime("%H:%M")
    assert f"Rivya balance as of {read_at}: <strong>1,234</strong> credits" in body


def test_it_shows_the_last_error_with_its_code_message_and_request_id(alice, charlie_client):
    generation(alice, Status.QUEUED)
    rivya_failing_since(
        300,
        code="internal_error",
        message="Rivya answered with a server error (Internal server error.).",
        request_id="req_0123456789abcdef01234567",
    )
    body = charlie_client.get("/usage/").content.decode()
    assert "has not been working since" in body  # the banner, as members see it
    health_panel = body[body.index('id="rivya-health"') :]
    assert "<code>internal_error</code>. Rivya answered with a server error" in health_panel
    assert "Rivya's request id: <code>req_0123456789abcdef01234567</code>." in health_panel


def test_it_says_when_rivya_last_answered(sim, charlie_client):
    beat_refresh()
    body = charlie_client.get("/usage/").content.decode()
    answered_at = timezone.localtime(health.health().last_success).strftime("%H:%M")
    assert f"Rivya answered last at {answered_at}." in body
    assert "The model list is from" in body


def test_it_says_the_studio_has_not_called_rivya_yet(charlie_client):
    body = charlie_client.get("/usage/").content.decode()
    assert "The studio has not called Rivya yet." in body
    assert "the form offers the documented Imagen 4 models" in body


def test_it_reads_dates_typed_in_thai_digits(march_ledger, charlie_client):
    period = charlie_client.get("/usage/?start=๒๐๒๖-๐๓-๑๑&end=๒๐๒๖-๐๓-๑๑").context["period"]
    assert (period.start.isoformat(), period.end.isoformat(), period.error) == (
        "2026-03-11",
        "2026-03-11",
        "",
    )
