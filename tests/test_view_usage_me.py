"""A member's own credit usage: their spending per day and per model, and how their images went."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import MemberBudget, this_month
from tests.support import page_text, table_row

pytestmark = pytest.mark.django_db

MARCH = "start=2026-03-01&end=2026-03-31"


def test_it_requires_sign_in(client):
    response = client.get("/usage/me/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/") or "login" in response.url


def test_any_member_may_open_it(alice_client):
    assert alice_client.get("/usage/me/").status_code == 200


def test_the_header_links_it_for_every_member(alice_client):
    body = page_text(alice_client.get("/"))
    assert '<a href="/usage/me/"' in body
    assert "My usage" in body


def test_it_shows_only_the_members_own_spending(march_ledger, alice_client):
    response = alice_client.get(f"/usage/me/?{MARCH}")
    totals = response.context["report"]["totals"]
    assert (totals["charged"], totals["held"], totals["released"]) == (16, 8, 0)
    assert "bob" not in response.content.decode()
    assert "google-imagen4-ultra" not in response.content.decode()  # bob's model


def test_it_shows_spending_per_day_and_per_model(march_ledger, alice_client):
    response = alice_client.get(f"/usage/me/?{MARCH}")
    assert table_row(response, "day", "2026-03-10") == ["8", "0"]
    assert table_row(response, "day", "2026-03-11") == ["8", "0"]
    assert table_row(response, "model", "google-imagen4") == ["16", "0"]


def test_it_draws_the_chart_by_model(march_ledger, alice_client):
    body = alice_client.get(f"/usage/me/?{MARCH}").content.decode()
    assert "<title>Tue Mar 10, google-imagen4: 8 credits</title>" in body
    assert "style=" not in body


def test_it_counts_and_links_the_members_outcomes(march_ledger, bob_client):
    body = page_text(bob_client.get(f"/usage/me/?{MARCH}"))
    failed = "/?member=bob&amp;status=failed&amp;from=2026-03-01&amp;to=2026-03-31"
    succeeded = "/?member=bob&amp;status=succeeded&amp;from=2026-03-01&amp;to=2026-03-31"
    assert f'<a href="{failed}" data-outcome="failed"> 1 failed</a>' in body
    assert f'<a href="{succeeded}" data-outcome="succeeded"> 0 images made</a>' in body


def test_it_shows_the_members_budget(alice, alice_client):
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=288, period=this_month())
    body = page_text(alice_client.get("/usage/me/"))
    assert "You have used 288 of your 400 credits this month." in body


def test_it_says_when_the_member_has_no_budget_of_their_own(alice_client):
    body = page_text(alice_client.get("/usage/me/"))
    assert "You have no monthly budget of your own" in body


def test_an_admin_sees_their_own_usage_here_not_the_teams(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/me/?{MARCH}")
    assert response.context["report"]["totals"]["charged"] == 0
    assert "No credits were spent in this period." in page_text(response)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", "Dates are written YYYY-MM-DD"),
        ("start=2026-03-12&end=2026-03-01", "The start comes after the end."),
        ("end=99999-01-01", "Dates are written YYYY-MM-DD"),
    ],
)
def test_it_explains_a_bad_date_with_a_400(alice_client, query, message):
    response = alice_client.get(f"/usage/me/?{query}")
    assert response.status_code == 400
    assert message in page_text(response)
    assert response.context["period"].start == timezone.localdate() - timedelta(days=29)
