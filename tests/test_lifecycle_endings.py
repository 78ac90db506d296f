"""Ending a generation early (cancel, stop waiting) and the seed the studio picks, against the
real simulator, one lifecycle step at a time. Both sides are checked: our rows and ledger, and
the simulator's record of tasks, seeds and credits."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from generations import catalog, lifecycle
from generations.forms import MAX_SEED
from generations.models import Generation, MemberBudget, Status
from generations.rivya import ModelInfo, ModelParam
from tests.support import (
    RESERVED_AND_CHARGED,
    RESERVED_AND_RELEASED,
    images_of,
    ledger_entries_of,
    make_due,
    new_generation,
    remote_tasks_for,
    run_until_finished,
)

pytestmark = pytest.mark.django_db


def budget_used(user) -> int:
    return MemberBudget.objects.get(user=user).used


# -- Cancel ----------------------------------------------------------------------------------


def test_it_cancels_one_never_sent_and_nothing_reaches_rivya_after(sim, alice):
    generation = new_generation(alice)
    lifecycle.cancel(generation.pk, alice)
    assert lifecycle.submit(generation.pk) is None  # the task already in the broker finds it over
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (Status.FAILED, "cancelled")
    assert generation.next_check_at is None
    assert generation.lease_until is None
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    assert budget_used(alice) == 0
    assert sim.state.create_requests == 0


def test_it_cancels_one_rivya_asked_us_to_wait_for(sim, alice):
    sim.faults.rate_limit(1, retry_after=30, on="create")
    generation = new_generation(alice)
    step = lifecycle.submit(generation.pk)
    assert step is not None
    assert step.step == "submit"  # queued again, no attempt counted: Rivya made nothing
    lifecycle.cancel(generation.pk, alice)
    generation.refresh_from_db()
    assert generation.error_code == "cancelled"
    assert sim.state.creates_total == 0


def test_it_does_not_cancel_one_an_attempt_may_have_reached(sim, alice):
    sim.faults.drop_after_create(1)  # Rivya made the task; its answer was lost
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    assert (generation.status, generation.submit_attempts) == (Status.QUEUED, 1)
    with pytest.raises(lifecycle.CannotEnd, match="Stop waiting"):
        lifecycle.cancel(generation.pk, alice)
    lifecycle.stop_waiting(generation.pk, alice)  # what it offers instead
    generation.refresh_from_db()
    assert generation.error_code == "stopped_waiting"
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED


def test_it_refuses_to_cancel_another_members_generation(sim, alice, bob):
    generation = new_generation(alice)
    with pytest.raises(lifecycle.CannotEnd):
        lifecycle.cancel(generation.pk, bob)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert ledger_entries_of(generation) == [("reserve", 8)]


@pytest.mark.django_db(transaction=True)
def test_exactly_one_wins_when_a_cancel_and_a_worker_claim_at_the_same_moment(sim, alice):
    for _ in range(8):  # each round is a race; either side may win it, never both
        generation = new_generation(alice)
        start = threading.Barrier(2)
        cancelled: list[bool] = []

        def cancel(
            pk: int = generation.pk, start: threading.Barrier = start, cancelled=cancelled
        ) -> None:
            start.wait()
            try:
                lifecycle.cancel(pk, alice)
                cancelled.append(True)
            except lifecycle.CannotEnd:
                cancelled.append(False)
            finally:
                connection.close()

        def send(pk: int = generation.pk, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                lifecycle.submit(pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=cancel), threading.Thread(target=send)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        generation.refresh_from_db()
        tasks_at_rivya = len(remote_tasks_for(sim, generation))
        if cancelled == [True]:
            assert (generation.status, generation.error_code) == (Status.FAILED, "cancelled")
            assert tasks_at_rivya == 0
            assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
        else:
            assert cancelled == [False]
            assert generation.status == Status.PROCESSING
            assert tasks_at_rivya == 1
            assert ledger_entries_of(generation) == [("reserve", 8)]


# -- Stop waiting ----------------------------------------------------------------------------


def sent_and_stopped(sim, alice) -> Generation:
    """A generation Rivya accepted and keeps making, which its member stopped waiting for."""
    generation = new_generation(alice, prompt="A ship that never docks [sim:never]")
    assert lifecycle.submit(generation.pk) is not None
    lifecycle.stop_waiting(generation.pk, alice)
    generation.refresh_from_db()
    return generation


def test_it_stops_waiting_releases_and_keeps_looking_for_a_late_result(sim, alice):
    generation = sent_and_stopped(sim, alice)
    assert (generation.status, generation.error_code) == (Status.FAILED, "stopped_waiting")
    assert "cannot be asked to stop" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
    assert budget_used(alice) == 0
    assert generation.next_check_at is not None
    assert lifecycle.poll(generation.pk) is None  # the poll already in the broker finds it over


def test_a_late_success_after_stop_waiting_becomes_the_one_charge(sim, alice):
    generation = sent_and_stopped(sim, alice)
    sim.finish_task(generation.remote_task_id)  # Rivya finishes after all
    make_due(generation)
    assert (generation.pk, Status.FAILED, False) in lifecycle.overdue_generations()
    lifecycle.look_for_late_result(generation.pk)
    lifecycle.poll(generation.pk, force=True)  # and a webhook says so too

    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert images_of(generation) == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    assert budget_used(alice) == 8
    assert sim.state.credits_charged == 8
    assert len(remote_tasks_for(sim, generation)) == 1


def test_a_late_failure_after_stop_waiting_charges_nothing_and_stops_looking(sim, alice):
    generation = sent_and_stopped(sim, alice)
    sim.finish_task(generation.remote_task_id, "failed")
    make_due(generation)
    lifecycle.look_for_late_result(generation.pk)
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (Status.FAILED, "stopped_waiting")
    assert generation.next_check_at is None
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED


def test_it_does_not_stop_waiting_while_a_worker_holds_the_row(sim, alice):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() + timedelta(seconds=60)
    )
    with pytest.raises(lifecycle.CannotEnd, match="Try again in a moment"):
        lifecycle.stop_waiting(generation.pk, alice)
    assert Generation.objects.get(pk=generation.pk).status == Status.PROCESSING


def test_it_does_not_stop_waiting_for_one_never_sent(sim, alice):
    generation = new_generation(alice)
    with pytest.raises(lifecycle.CannotEnd, match="Cancel it instead"):
        lifecycle.stop_waiting(generation.pk, alice)


# -- The seed the studio picks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "as_sent"), [("google-imagen4", str), ("google-imagen4-fast", int)]
)
def test_it_picks_a_seed_when_none_is_given_and_sends_it(sim, alice, model, as_sent):
    generation = new_generation(alice, model=model)
    assert generation.seed_picked
    assert generation.seed is not None
    assert 0 <= generation.seed <= MAX_SEED
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    sent = sim.state.task(generation.remote_task_id)["body"]["params"]["seed"]
    assert sent == as_sent(generation.seed)


def test_it_sends_the_members_own_seed_as_it_is(sim, alice):
    generation = new_generation(alice, seed=7)
    assert not generation.seed_picked
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    assert sim.state.task(generation.remote_task_id)["body"]["params"]["seed"] == "7"


def test_it_picks_no_seed_for_a_model_that_takes_none():
    no_seed = ModelInfo("plain", "Plain", 1, None, True, (ModelParam("aspect_ratio", "select"),))
    assert lifecycle.pick_seed(no_seed, None) == (None, False)
    with_seed = catalog.DOCUMENTED_MODELS[0]
    assert lifecycle.pick_seed(with_seed, 5) == (5, False)


def test_an_image_made_with_a_picked_seed_can_be_made_again(sim, alice):
    first = run_until_finished(new_generation(alice, prompt="A paper boat"))
    again = run_until_finished(new_generation(alice, prompt="A paper boat", seed=first.seed))
    assert first.seed_picked
    assert (first.status, again.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    with (
        default_storage.open(str(first.image.name)) as one,
        default_storage.open(str(again.image.name)) as two,
    ):
        assert one.read() == two.read()  # the simulator draws (prompt, seed) the same way
