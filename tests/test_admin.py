"""The Django admin: staff list generations by status and member, and set members' budgets."""

from __future__ import annotations

import pytest
from django.test import Client

from generations.models import MemberBudget, this_month
from tests import rows
from tests.conftest import make_user

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
    page = admin_client.get("/admin/generations/memberbudget/add/").content.decode()
    assert this_month().isoformat() in page
    response = admin_client.post(
        "/admin/generations/memberbudget/add/",
        {"user": alice.pk, "monthly_limit": 200, "period": this_month().isoformat(), "used": 0},
    )
    assert response.status_code == 302
    assert MemberBudget.objects.get(user=alice).monthly_limit == 200
