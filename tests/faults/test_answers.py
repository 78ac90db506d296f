"""Faults 29-31: Rivya (or whatever stands between us and it) answers something odd. The
simulator's ``odd_answer`` switch sends exactly the status, headers and body a test names; the
lifecycle is driven step by step, and both sides are checked: our rows and ledger, and the
simulator's record of tasks and of every API path it was asked for."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from generations import lifecycle
from generations.models import Generation, Status
from generations.rivya import MAX_RETRY_AFTER_SECONDS
from tests.support import (
    RESERVED_AND_CHARGED,
    RESERVED_AND_RELEASED,
    ledger_entries_of,
    make_due,
    new_generation,
    remote_tasks_for,
    run_until_finished,
)

pytestmark = pytest.mark.django_db

RATE_LIMITED = json.dumps({"error": {"code": "rate_limited", "message": "Slow down."}})

# Error answers of every shape that was reproduced as a crash (issue 9), and a few more.
ODD_ANSWERS = [
    pytest.param(503, '{"error": "Service Unavailable"}', "application/json", id="error-a-string"),
    pytest.param(503, '{"error": null}', "application/json", id="error-null"),
    pytest.param(502, "[1, 2, 3]", "application/json", id="a-list"),
    pytest.param(504, "<html><h1>Gateway Timeout</h1></html>", "text/html", id="a-proxy-page"),
    pytest.param(500, "", "text/plain", id="empty"),
    pytest.param(503, '{"error": {"code": "rate_li', "application/json", id="truncated"),
    pytest.param(429, '"Too Many Requests"', "application/json", id="429-a-string"),
    pytest.param(503, "null", "application/json", id="null"),
]


def submitted(alice) -> tuple[Generation, lifecycle.Next]:
    """A generation sent to the simulator, with the step the lifecycle asked for next."""
    generation = new_generation(alice)
    step = lifecycle.submit(generation.pk)
    assert step is not None
    assert step.step == "poll"
    return generation, step


def assert_succeeded_once(sim, generation: Generation, finished: Generation) -> None:
    assert finished.status == Status.SUCCEEDED
    assert finished.error_code == ""
    assert ledger_entries_of(finished) == RESERVED_AND_CHARGED
    assert len(remote_tasks_for(sim, generation)) == 1


@pytest.mark.fault(29)
@pytest.mark.parametrize(("status", "body", "content_type"), ODD_ANSWERS)
def test_it_keeps_checking_through_an_odd_answer_of_any_shape(
    sim, alice, status, body, content_type
):
    generation, _ = submitted(alice)
    sim.faults.odd_answer(2, status=status, body=body, content_type=content_type, on="get")
    make_due(generation)

    step = lifecycle.poll(generation.pk)

    generation.refresh_from_db()
    assert step is not None
    assert step.step == "poll"  # a typed, retryable RivyaError: checked again, not failed
    assert (generation.status, generation.error_code) == (Status.PROCESSING, "")
    assert generation.status_note
    finished = run_until_finished(generation.pk, first=step)
    assert_succeeded_once(sim, generation, finished)
    assert sim.state.get_requests >= 3  # two odd answers, then the real one


@pytest.mark.fault(29)
@pytest.mark.parametrize(("status", "body", "content_type"), ODD_ANSWERS)
def test_it_sends_again_after_an_odd_answer_to_a_create(sim, alice, status, body, content_type):
    sim.faults.odd_answer(1, status=status, body=body, content_type=content_type, on="create")
    generation = new_generation(alice)

    step = lifecycle.submit(generation.pk)

    generation.refresh_from_db()
    assert step is not None
    assert step.step == "submit"
    assert (generation.status, generation.error_code) == (Status.QUEUED, "")
    finished = run_until_finished(generation.pk, first=step)
    assert_succeeded_once(sim, generation, finished)
    assert sim.state.create_requests == 2


@pytest.mark.fault(29)
def test_it_survives_odd_answers_on_every_endpoint_at_once(sim, alice):
    # The model list, the create and the checks all answer a proxy's page for a while.
    sim.faults.odd_answer(4, status=502, body="<html>Bad gateway</html>", content_type="text/html")
    generation = new_generation(alice)
    finished = run_until_finished(generation.pk, timeout=30)
    assert_succeeded_once(sim, generation, finished)


@pytest.mark.fault(30)
@pytest.mark.parametrize("on", ["create", "get"])
def test_it_caps_an_absurd_retry_after(sim, alice, on):
    generation = new_generation(alice)
    if on == "get":
        generation, _ = submitted(alice)
        make_due(generation)
    sim.faults.odd_answer(
        1, status=429, body=RATE_LIMITED, headers={"Retry-After": "99999999999999999999"}, on=on
    )

    before = timezone.now()
    step = (lifecycle.submit if on == "create" else lifecycle.poll)(generation.pk)

    generation.refresh_from_db()
    assert step is not None
    assert step.delay == MAX_RETRY_AFTER_SECONDS  # 15 minutes, not 3 trillion years
    assert generation.next_check_at is not None
    wait = generation.next_check_at - before
    assert timedelta(seconds=MAX_RETRY_AFTER_SECONDS) <= wait
    assert wait <= timedelta(seconds=MAX_RETRY_AFTER_SECONDS + 5)
    assert generation.error_code == ""
    finished = run_until_finished(generation.pk, first=step)
    assert_succeeded_once(sim, generation, finished)


@pytest.mark.fault(30)
@pytest.mark.parametrize("value", ["-5", "NaN", "inf", "1e400", "soon", "Mon, 99 Foo 2026"])
def test_it_uses_its_own_backoff_for_an_unreadable_retry_after(sim, alice, value):
    generation = new_generation(alice)
    sim.faults.odd_answer(
        1, status=429, body=RATE_LIMITED, headers={"Retry-After": value}, on="create"
    )

    step = lifecycle.submit(generation.pk)

    assert step is not None
    assert 0 < step.delay <= 60  # lifecycle.backoff(), not Rivya's garbage
    finished = run_until_finished(generation.pk, first=step)
    assert_succeeded_once(sim, generation, finished)


EXPECTED_PATHS = re.compile(
    r"GET /api/v1/models|POST /api/v1/generations|GET /api/v1/generations/task_[0-9a-f]{24}"
)


@pytest.mark.fault(31)
@pytest.mark.parametrize("task_id", ["../credits", "..", "task_1/../../models", "task 1"])
def test_it_refuses_a_created_task_whose_id_is_not_a_plain_token(sim, alice, task_id):
    odd_task = {"id": task_id, "status": "queued", "model": "google-imagen4"}
    sim.faults.odd_answer(1, status=201, body=json.dumps(odd_task), on="create")
    generation = new_generation(alice)

    step = lifecycle.submit(generation.pk)

    generation.refresh_from_db()
    assert step is not None
    assert step.step == "submit"  # refused as a protocol error, and sent again
    assert generation.remote_task_id is None
    finished = run_until_finished(generation.pk, first=step)
    assert_succeeded_once(sim, generation, finished)
    assert re.fullmatch(r"task_[0-9a-f]{24}", finished.remote_task_id or "")
    asked = sim.state.api_paths
    assert [path for path in asked if not EXPECTED_PATHS.fullmatch(path)] == []


@pytest.mark.fault(31)
@pytest.mark.parametrize("task_id", ["../credits", "..", "%2e%2e", "task_1?x=1"])
def test_it_sends_nothing_for_a_stored_id_that_is_not_a_plain_token(sim, alice, task_id):
    # A row saved by an earlier version, before ids were checked on the way in.
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.PROCESSING, remote_task_id=task_id, next_check_at=timezone.now()
    )
    asked_before = sim.state.api_paths  # the model list, read when the row was made

    assert lifecycle.poll(generation.pk) is None

    generation.refresh_from_db()
    assert sim.state.api_paths == asked_before  # no request at all, to any path
    assert (generation.status, generation.error_code) == (Status.FAILED, "protocol_error")
    assert "could not read" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED
