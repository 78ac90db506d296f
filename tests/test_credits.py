"""The team's monthly cap beside the members' budgets (generations/credits.py): one savepoint
takes both or neither, settlements move both, and no set of concurrent submits passes either."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from generations import credits
from generations.models import Generation, LedgerEntry, MemberBudget, TeamBudget, this_month
from tests.support import make_user, month_name, new_generation

pytestmark = pytest.mark.django_db


def set_team_cap(limit: int | None, used: int = 0, period=None) -> None:
    TeamBudget.objects.update_or_create(
        pk=TeamBudget.ID,
        defaults={"monthly_limit": limit, "used": used, "period": period or this_month()},
    )


def team_used() -> int:
    return TeamBudget.objects.get(pk=TeamBudget.ID).used


def member_used(user) -> int:
    return MemberBudget.objects.get(user=user).used


def test_it_counts_every_reservation_against_the_team_even_without_a_cap(alice, bob):
    new_generation(alice)
    new_generation(bob)
    assert team_used() == 16


def test_it_refuses_what_would_pass_the_team_cap_and_takes_nothing_from_the_member(alice):
    MemberBudget.objects.create(user=alice, monthly_limit=100, used=10, period=this_month())
    set_team_cap(20, used=16)
    with pytest.raises(credits.OverBudget) as refused:
        new_generation(alice)
    assert refused.value.team
    assert refused.value.message == (
        f"This needs 8 credits; the team has 4 of its 20 left in {month_name()}. "
        "Ask an admin to raise the team's monthly cap."
    )
    assert (member_used(alice), team_used()) == (10, 16)
    assert not Generation.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_it_refuses_what_would_pass_the_members_budget_and_takes_nothing_from_the_team(alice):
    MemberBudget.objects.create(user=alice, monthly_limit=12, used=6, period=this_month())
    set_team_cap(100, used=30)
    with pytest.raises(credits.OverBudget) as refused:
        new_generation(alice)
    assert not refused.value.team
    assert refused.value.message == (
        f"This needs 8 credits; 6 of 12 are left in {month_name()}. "
        "Ask an admin to raise your budget."
    )
    assert (member_used(alice), team_used()) == (6, 30)


def test_it_takes_up_to_the_last_credit_of_the_cap(alice):
    set_team_cap(16, used=8)
    new_generation(alice)
    assert team_used() == 16


def test_it_starts_the_team_from_zero_in_a_new_month(alice):
    set_team_cap(40, used=40, period=this_month() - timedelta(days=1))
    new_generation(alice)
    team = TeamBudget.objects.get()
    assert (team.used, team.period) == (8, this_month())


def test_it_gives_a_release_back_to_the_team_and_the_member(alice):
    set_team_cap(100)
    generation = new_generation(alice)
    assert credits.release(generation)
    assert (member_used(alice), team_used()) == (0, 0)


def test_it_moves_both_by_what_a_charge_differs_from_the_reservation(alice):
    set_team_cap(100)
    generation = new_generation(alice)
    assert credits.charge(generation, 12)
    assert (member_used(alice), team_used()) == (12, 12)


def test_it_reads_the_members_standing_in_one_query_without_writing(
    alice, settings, django_assert_num_queries
):
    settings.DEFAULT_MONTHLY_BUDGET = 400
    with django_assert_num_queries(1):
        standing = credits.member_standing(alice)
    assert (standing.limit, standing.used, standing.left) == (400, 0, 400)
    assert not MemberBudget.objects.exists()


def test_it_counts_a_budget_of_an_older_month_as_unused(alice):
    last_month = this_month() - timedelta(days=1)
    MemberBudget.objects.create(user=alice, monthly_limit=50, used=50, period=last_month)
    standing = credits.member_standing(alice)
    assert (standing.left, standing.period) == (50, this_month())


@pytest.mark.parametrize(
    ("used", "near", "over"),
    [(311, False, False), (312, True, False), (392, True, False), (393, False, True)],
)
def test_it_warns_from_80_per_cent_and_refuses_past_the_end(used, near, over):
    standing = credits.Standing(limit=400, used=used, period=this_month())
    assert (standing.near(8), standing.over(8)) == (near, over)


# -- Concurrent submits ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_set_of_concurrent_submits_passes_the_team_cap_or_a_budget(form_data):
    """16 submits through the view at once, on real threads and connections: on the embedded
    tier against SQLite, on the production tier (DATABASE_URL, .ci/run) against PostgreSQL,
    where the conditional updates really run side by side. Alice may take 16 credits, the team
    48: exactly six are accepted, whatever the order, and the counters match the ledger."""
    alice = make_user("alice")
    others = [make_user(name) for name in ("bob", "charlie", "dave")]
    MemberBudget.objects.create(user=alice, monthly_limit=16, period=this_month())
    set_team_cap(48)
    clients = []
    for user in [alice, *others] * 4:
        client = Client()
        client.force_login(user)
        clients.append(client)
    start = threading.Barrier(len(clients))
    answers: list[tuple[int, str]] = []

    def submit(client: Client) -> None:
        try:
            start.wait()
            response = client.post("/generations/", form_data())
            answers.append((response.status_code, response.content.decode()))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    with mock.patch("generations.tasks.enqueue_submit"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert sorted(status for status, _ in answers) == [302] * 6 + [400] * 10
    refusals = [body for status, body in answers if status == 400]
    team_full = f"This needs 8 credits; the team has 0 of its 48 left in {month_name()}."
    alice_full = f"This needs 8 credits; 0 of 16 are left in {month_name()}."
    assert all(team_full in body or alice_full in body for body in refusals)
    reserved = [e.credits for e in LedgerEntry.objects.filter(kind="reserve")]
    assert (sum(reserved), len(reserved), team_used()) == (48, 6, 48)
    alices = Generation.objects.filter(user=alice).count()
    assert alices <= 2
    assert member_used(alice) == 8 * alices
