"""Fault tests, items 1-8 of docs/reliability.md: submitting. The simulator's fault switches
play Rivya's failures; both sides are checked: our rows and ledger, and the simulator's record of
tasks and credits."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import pytest
from django.db import connection
from django.test import Client

from generations import lifecycle, tasks
from generations.models import Generation, LedgerEntry, MemberBudget, Status
from tests.support import (
    RESERVED_AND_CHARGED,
    RESERVED_AND_RELEASED,
    TEST_API_KEY,
    finished,
    images_of,
    ledger_entries_of,
    let_lease_run_out,
    month_name,
    new_generation,
    past_time_budget,
    remote_tasks_for,
    submit_steps,
    wait_for,
)


def run_to_the_end(generation_id: int) -> list[float]:
    """Drive submit as the tasks would, skipping the waits; returns the delays asked for."""
    delays = []
    step = lifecycle.submit(generation_id)
    while step is not None and step.step == "submit":
        delays.append(step.delay)
        let_lease_run_out(generation_id)
        step = lifecycle.submit(generation_id)
    return delays


@pytest.mark.fault(1)
@pytest.mark.slow
def test_it_makes_one_generation_and_one_task_from_two_submits_at_once(
    sim, workers, alice, form_data
):
    workers.start()
    data = form_data()
    start = threading.Barrier(2)
    answers: list[int] = []

    def submit() -> None:
        client = Client()
        client.force_login(alice)
        start.wait()
        answers.append(client.post("/generations/", data).status_code)
        connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert answers == [302, 302]
    generation = Generation.objects.get()
    wait_for(lambda: finished(generation.pk), timeout=60)
    assert len(remote_tasks_for(sim, generation)) == 1
    assert sim.state.creates_total == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED


@pytest.mark.fault(2)
@pytest.mark.slow
def test_it_gets_the_same_task_when_the_create_answer_was_lost(sim, workers, alice):
    sim.faults.drop_after_create(1)
    workers.start()
    generation = new_generation(alice)
    tasks.enqueue_submit(generation.pk)
    wait_for(lambda: finished(generation.pk), timeout=60)

    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert sim.state.create_requests == 2
    assert [t.id for t in remote_tasks_for(sim, generation)] == [generation.remote_task_id]
    assert sim.state.creates_total == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    assert sim.state.credits_charged == 8
    assert images_of(generation) == 1


@pytest.mark.fault(3)
@pytest.mark.slow
def test_it_waits_as_long_as_rate_limited_asks_and_says_it_is_waiting(
    sim, workers, alice, alice_client
):
    sim.faults.rate_limit(1, retry_after=7, on="create")
    workers.start()
    generation = new_generation(alice)
    sent_at = time.time()
    tasks.enqueue_submit(generation.pk)
    wait_for(lambda: sim.state.create_requests == 1, timeout=30)
    wait_until_queued = wait_for(
        lambda: (
            Generation.objects.filter(pk=generation.pk, status=Status.QUEUED)
            .exclude(status_note="")
            .first()
        ),
        timeout=10,
    )
    card = alice_client.get(f"/generations/cards/?id={generation.pk}").content.decode()
    assert "asked us to wait" in card
    assert "Failed" not in card
    assert wait_until_queued.error_code == ""

    wait_for(lambda: finished(generation.pk), timeout=60)
    task = remote_tasks_for(sim, generation)[0]
    assert task.created_at - sent_at >= 7.0  # nothing was sent during the 7 s
    assert sim.state.create_requests == 2
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


@pytest.mark.fault(4)
@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["server_error", "timeout"])
def test_it_backs_off_with_jitter_then_fails_clearly_and_releases_once(kind, sim, alice, settings):
    if kind == "server_error":
        sim.faults.server_error(-1, status=503, on="create")
    else:
        settings.RIVYA_READ_TIMEOUT = 0.3
        sim.faults.timeout(-1, seconds=1, on="create")
    generation = new_generation(alice)

    # Rivya down is not a reason to give up: past the attempt limit it keeps waiting for Rivya.
    tries = settings.SUBMIT_MAX_ATTEMPTS + 2
    delays = submit_steps(generation.pk, tries)
    assert sim.state.create_requests == tries
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60, 2 ** max(1, attempt))
        assert ceiling / 2 <= delay <= ceiling  # growing, with jitter
    assert len(set(delays)) == len(delays)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    # The time budget ends it, with a clear message, releasing once.
    past_time_budget(generation.pk)
    assert run_to_the_end(generation.pk) == []
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "so we stopped waiting" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    lifecycle.fail_unexpectedly(generation.pk)  # a late second attempt to fail changes nothing
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    assert sim.state.creates_total == 0


@pytest.mark.fault(4)
@pytest.mark.django_db
def test_it_stops_after_its_attempts_when_rivya_answers_what_we_cannot_read(sim, alice, settings):
    sim.faults.odd_answer(-1, status=200, body="<html>not json</html>", on="create")
    generation = new_generation(alice)
    delays = run_to_the_end(generation.pk)
    assert len(delays) == settings.SUBMIT_MAX_ATTEMPTS - 1
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "so we stopped trying" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED


def budget_used(user) -> int:
    return MemberBudget.objects.get(user=user).used


@pytest.mark.fault(5)
@pytest.mark.django_db
def test_it_does_not_retry_a_request_rivya_rejects_and_says_what_to_change(sim, alice):
    generation = new_generation(alice, aspect_ratio="2:1")  # a ratio Rivya does not take

    assert lifecycle.submit(generation.pk) is None  # no retry scheduled

    generation.refresh_from_db()
    assert sim.state.create_requests == 1
    assert generation.status == Status.FAILED
    assert generation.error_code == "validation_failed"
    assert "Change them and try again" in generation.error_message
    assert "aspect_ratio" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    assert budget_used(alice) == 0  # nothing stays reserved
    assert sim.state.creates_total == 0


@pytest.mark.fault(6)
@pytest.mark.django_db
def test_it_tells_the_member_and_the_admins_when_credits_run_out(sim, alice, caplog):
    sim.state.set_credits(3)
    generation = new_generation(alice)

    with caplog.at_level(logging.ERROR, logger="generations.lifecycle"):
        assert lifecycle.submit(generation.pk) is None

    generation.refresh_from_db()
    assert sim.state.create_requests == 1
    assert generation.status == Status.FAILED
    assert "out of credits" in generation.error_message
    assert "An admin has been told" in generation.error_message
    assert "Add credits" in generation.admin_message
    assert any("needs an admin" in r.getMessage() for r in caplog.records)
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    assert budget_used(alice) == 0
    assert sim.state.credits_charged == 0


@pytest.mark.fault(7)
@pytest.mark.django_db
def test_it_refuses_a_member_over_budget_before_sending_with_the_numbers(
    sim, alice, alice_client, form_data
):
    this_month = date.today().replace(day=1)
    MemberBudget.objects.create(user=alice, monthly_limit=10, used=5, period=this_month)

    response = alice_client.post("/generations/", form_data())

    assert response.status_code in (200, 400)  # the form again, with the message
    assert f"This needs 8 credits; 5 of 10 are left in {month_name()}." in (
        response.content.decode()
    )
    assert not Generation.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert budget_used(alice) == 5
    assert sim.state.create_requests == 0


@pytest.mark.fault(8)
@pytest.mark.django_db
@pytest.mark.parametrize("problem", ["revoked", "scope_denied"])
def test_it_fails_fast_on_a_refused_key_and_never_shows_the_key(
    problem, sim, alice, charlie, caplog
):
    if problem == "revoked":
        sim.faults.revoked_keys = {TEST_API_KEY}
    else:
        sim.faults.scope_denied = True
    generation = new_generation(alice)

    with caplog.at_level(logging.DEBUG):
        assert lifecycle.submit(generation.pk) is None

    generation.refresh_from_db()
    assert sim.state.create_requests == 1
    assert generation.status == Status.FAILED
    assert "tell an admin" in generation.error_message
    assert "RIVYA_API_KEY" in generation.admin_message or "scope" in generation.admin_message
    admin = Client()
    admin.force_login(charlie)
    pages = [
        admin.get("/").content.decode(),
        admin.get(f"/generations/{generation.pk}/").content.decode(),
        admin.get(f"/generations/cards/?id={generation.pk}").content.decode(),
        admin.get("/usage/").content.decode(),
    ]
    told = [generation.error_message, generation.admin_message, caplog.text, *pages]
    assert not [text for text in told if TEST_API_KEY in text]
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
