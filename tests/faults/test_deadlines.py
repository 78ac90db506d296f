"""Faults 33-35: a peer that accepts the connection and never answers, at each step's call.

Celery's time limits do not hold in the threads pool we run, so each step keeps its own
deadline: the create and the status check end within ``RIVYA_TOTAL_TIMEOUT`` (the client's), a
result's downloads within ``RESULT_DEADLINE_SECONDS``. The hang is the simulator's: its
``timeout`` fault for the API calls, its ``hang`` result mode for a download; either holds the
connection open until the simulator stops. Each step runs in a thread that the test waits for
far longer than the deadline: a step without a deadline would never return at all. Then the row
must be left for the reconciler (no lease held, a next check set), and nothing lost.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from generations import lifecycle, rivya
from generations.models import Generation, Status
from tests.support import (
    RESERVED_AND_CHARGED,
    images_of,
    ledger_entries_of,
    make_due,
    new_generation,
    remote_tasks_for,
    run_until_finished,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

HANG = 600.0  # the simulator holds the connection this long (or until it stops)
RETURNED_WITHIN = 10.0  # far past the 1 s deadlines: "it returned", not "it was fast"
RESERVED_ONLY = [("reserve", 8)]


@pytest.fixture
def short_deadlines(settings: Any) -> None:
    settings.RIVYA_TOTAL_TIMEOUT = 1.0
    settings.RESULT_DEADLINE_SECONDS = 1.0
    rivya.reset_client()  # the client reads its deadlines when it is made


def returned(step: Any, generation_id: int) -> Any:
    """Run a lifecycle step in a thread, as a worker's pool would, and give back what it
    returned; fail the test if it is still running after RETURNED_WITHIN seconds."""

    def run() -> Any:
        try:
            return step(generation_id)
        finally:
            connections.close_all()  # this thread's own database connection

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(run).result(timeout=RETURNED_WITHIN)
    except FutureTimeout:
        pytest.fail(f"{step.__name__} did not return: its call outlasted every deadline")
    finally:
        pool.shutdown(wait=False)


def assert_left_for_the_reconciler(generation: Generation) -> None:
    """No worker holds the row, its next check is set, and once that is overdue the
    reconciler picks it up."""
    generation.refresh_from_db()
    assert generation.lease_until is None
    assert generation.next_check_at is not None
    overdue = timezone.now() - lifecycle.RECONCILE_GRACE - timedelta(seconds=1)
    Generation.objects.filter(pk=generation.pk).update(next_check_at=overdue)
    assert (generation.pk, generation.status, False) in lifecycle.overdue_generations()


@pytest.mark.fault(33)
def test_a_create_that_hangs_ends_within_its_deadline_and_is_sent_again(
    sim, alice, short_deadlines
):
    generation = new_generation(alice)
    sim.faults.timeout(count=1, seconds=HANG, on="create")

    step = returned(lifecycle.submit, generation.pk)

    assert step is not None
    assert step.step == "submit"
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert "Rivya did not answer properly; trying again" in generation.status_note
    assert ledger_entries_of(generation) == RESERVED_ONLY
    assert_left_for_the_reconciler(generation)
    # Nothing is lost: sent again, the same key makes one task, charged once.
    generation = run_until_finished(generation)
    assert generation.status == Status.SUCCEEDED
    assert [t.id for t in remote_tasks_for(sim, generation)] == [generation.remote_task_id]
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED


@pytest.mark.fault(34)
def test_a_status_check_that_hangs_ends_within_its_deadline_and_is_made_again(
    sim, alice, short_deadlines
):
    generation = new_generation(alice)
    assert lifecycle.submit(generation.pk) is not None
    sim.faults.timeout(count=1, seconds=HANG, on="get")
    make_due(generation)

    step = returned(lifecycle.poll, generation.pk)

    assert step is not None
    assert step.step == "poll"
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    assert generation.poll_errors == 1
    assert generation.status_note == "Rivya is slow to answer; we keep checking."
    assert_left_for_the_reconciler(generation)
    generation = run_until_finished(generation, first=step)
    assert generation.status == Status.SUCCEEDED
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED


@pytest.mark.fault(35)
def test_a_download_that_hangs_ends_within_its_deadline_and_is_tried_again(
    sim, alice, short_deadlines
):
    generation = new_generation(alice, prompt="A quiet harbour [sim:hang]")
    assert lifecycle.submit(generation.pk) is not None
    generation.refresh_from_db()
    sim.finish_task(generation.remote_task_id)
    make_due(generation)

    step = returned(lifecycle.poll, generation.pk)

    assert step is not None
    assert step.step == "poll"
    generation.refresh_from_db()
    assert generation.status == Status.DOWNLOADING
    assert generation.poll_errors == 1
    assert images_of(generation) == 0
    assert ledger_entries_of(generation) == RESERVED_ONLY  # not charged until the image is kept
    assert_left_for_the_reconciler(generation)
    sim.state.task(generation.remote_task_id).result_mode = "ok"  # the file server is well again
    generation = run_until_finished(generation, first=step)
    assert generation.status == Status.SUCCEEDED
    assert images_of(generation) == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
