"""The Django admin: staff list generations by status and member, set members' budgets and the
team's monthly cap, and see the alerts sent."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from generations.models import AlertSent, MemberBudget, TeamBudget, this_month
from tests import rows
from tests.support import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    root = make_user("root", staff=True)
    root.is_superuser = True
    root.save()
    client.force_login(root)
    return client


def test_it_lists_generations_with_filters_by_status_and_member(admin_client, alice):
    rows.generation(alice, status="failed", prompt="A red kite")
    response = admin_client.get("/admin/generations/generation/?status__exact=failed")
    assert response.status_code == 200
    body = response.content.decode()
    assert "A red kite" in body
    assert "By status" in body
    assert "By user" in body


def test_it_adds_a_budget_for_a_member_with_this_month_filled_in(admin_client, alice):
    response = admin_client.post(
        "/admin/generations/memberbudget/add/", {"user": alice.pk, "monthly_limit": 200}
    )
    assert response.status_code == 302
    budget = MemberBudget.objects.get(user=alice)
    assert (budget.monthly_limit, budget.used, budget.period) == (200, 0, this_month())


def test_it_keeps_used_and_period_out_of_an_admins_hands(admin_client, alice):
    budget = MemberBudget.objects.create(user=alice, monthly_limit=100, used=40)
    url = f"/admin/generations/memberbudget/{budget.pk}/change/"
    response = admin_client.post(url, {"monthly_limit": 120, "used": 0, "period": "2020-01-01"})
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.monthly_limit, budget.used, budget.period) == (120, 40, this_month())


def test_it_warns_when_a_limit_is_set_below_what_was_used(admin_client, alice):
    budget = MemberBudget.objects.create(user=alice, monthly_limit=100, used=40)
    url = f"/admin/generations/memberbudget/{budget.pk}/change/"
    response = admin_client.post(url, {"monthly_limit": 30}, follow=True)
    assert "has already used 40 credits this month, more than the new limit of 30" in (
        response.content.decode()
    )


def test_it_shows_a_generations_images_and_ledger_as_records(admin_client, alice):
    generation = rows.generation(alice, status="succeeded", prompt="A red kite")
    rows.ledger_entry(generation, "reserve", 8)
    page = admin_client.get(f"/admin/generations/generation/{generation.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200
    # Without add permission the admin renders no empty row to copy ("Add another …").
    assert 'id="images-empty"' not in body
    assert 'id="ledger-empty"' not in body
    assert 'name="ledger-0-user"' not in body  # no user picker on a ledger row


def test_it_names_the_ledger_in_plain_english(admin_client):
    assert "Ledger entries" in admin_client.get("/admin/").content.decode()


def test_it_lists_the_teams_cap_beside_the_members_budgets(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Member budgets" in index
    assert "Team budgets" in index
    page = admin_client.get("/admin/generations/teambudget/")
    assert page.status_code == 200
    assert TeamBudget.objects.get().period == this_month()  # the one row, made at the first look
    assert "/admin/generations/teambudget/add/" not in page.content.decode()


def test_it_sets_the_teams_cap_and_keeps_used_and_period(admin_client):
    TeamBudget.objects.create(monthly_limit=None, used=40)
    response = admin_client.post(
        "/admin/generations/teambudget/1/change/",
        {"monthly_limit": 30, "used": 0, "period": "2020-01-01"},
        follow=True,
    )
    team = TeamBudget.objects.get()
    assert (team.monthly_limit, team.used, team.period) == (30, 40, this_month())
    assert "The team has already used 40 credits this month, more than the new limit of 30" in (
        response.content.decode()
    )


def test_it_neither_adds_nor_deletes_the_team_row_or_an_alert(admin_client):
    TeamBudget.objects.create()
    alert = AlertSent.objects.create(
        kind="team", period=this_month(), threshold=80, claimed_at=timezone.now()
    )
    assert admin_client.get("/admin/generations/teambudget/add/").status_code == 403
    assert admin_client.get("/admin/generations/teambudget/1/delete/").status_code == 403
    assert admin_client.get(f"/admin/generations/alertsent/{alert.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/generations/alertsent/").status_code == 200
