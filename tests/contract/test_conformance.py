"""Conformance: every fault switch of the simulator, driven through the lifecycle as the tasks
run it (``lifecycle.submit`` / ``lifecycle.poll``, countdowns skipped). Each test checks the
retry (or none), what the member reads, the generation's state, and one remote task and one
charge per generation on both sides: our ledger and the simulator's record."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from generations import catalog, lifecycle, rivya
from generations.models import Generation, GenerationImage, Status
from tests.support import (
    TEST_API_KEY,
    ledger_entries_of,
    make_due,
    new_generation,
    past_time_budget,
    run_until_finished,
    submit_steps,
)

pytestmark = pytest.mark.django_db


def remote_tasks(sim, generation: Generation):
    return sim.state.tasks_by_key(str(generation.uuid))


def assert_charged_once(sim, generation: Generation, credits: int = 8) -> None:
    """Succeeded: one remote task, charged once there and once here."""
    assert generation.status == Status.SUCCEEDED
    assert len(remote_tasks(sim, generation)) == 1
    assert sim.state.creates_total == 1
    assert sim.state.credits_charged == credits
    assert ledger_entries_of(generation) == [("reserve", credits), ("charge", credits)]


def assert_released_once(sim, generation: Generation, tasks: int = 0) -> None:
    """Failed: our reservation released once, nothing charged at Rivya or held open there."""
    assert generation.status == Status.FAILED
    assert len(remote_tasks(sim, generation)) == tasks
    assert sim.state.credits_charged == 0
    assert sim.state.credits_reserved_open == 0
    assert ledger_entries_of(generation) == [("reserve", 8), ("release", 8)]


# -- Waiting when asked to ------------------------------------------------------------------


def test_it_sends_nothing_until_retry_after_has_passed(sim, alice):
    sim.faults.rate_limit(count=1, retry_after=7, on="create")
    generation = new_generation(alice)
    before = timezone.now()
    step = lifecycle.submit(generation.pk)
    assert step == lifecycle.Next("submit", 7)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert generation.status_note == "Rivya asked us to wait; sending again in 7 s."
    assert generation.next_check_at is not None
    assert generation.next_check_at >= before + timedelta(seconds=7)
    assert lifecycle.submit(generation.pk) is None  # a message that comes early sends nothing
    assert sim.state.create_requests == 1
    assert_charged_once(sim, run_until_finished(generation, first=step))


def test_it_waits_for_retry_after_given_as_a_date(sim, alice):
    sim.faults.rate_limit(count=1, retry_after=20, on="create", retry_after_http_date=True)
    step = lifecycle.submit(new_generation(alice).pk)
    assert step is not None
    assert step.step == "submit"
    assert 17 <= step.delay <= 20


def test_it_waits_when_a_status_check_is_rate_limited(sim, alice):
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    sim.faults.rate_limit(count=1, retry_after=9, on="get")
    make_due(generation)
    step = lifecycle.poll(generation.pk)
    assert step == lifecycle.Next("poll", 9)
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    assert generation.status_note == "Rivya is slow to answer; we keep checking."
    assert_charged_once(sim, run_until_finished(generation, first=step))


def test_it_waits_while_the_public_api_is_disabled_without_using_attempts(sim, alice, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 2
    sim.faults.public_api_disabled(count=4, on="create")
    steps: list[lifecycle.Next] = []
    generation = run_until_finished(new_generation(alice), steps=steps)
    assert [s.step for s in steps[:4]] == ["submit"] * 4
    assert sim.state.create_requests == 5
    assert_charged_once(sim, generation)


# -- Retrying what a retry can fix -----------------------------------------------------------


def test_it_retries_a_burst_of_server_errors_with_the_same_key(sim, alice):
    sim.faults.server_error(count=3, status=502, on="create")
    steps: list[lifecycle.Next] = []
    generation = run_until_finished(new_generation(alice), steps=steps)
    assert sim.state.create_requests == 4
    assert_charged_once(sim, generation)
    assert [s.step for s in steps[:3]] == ["submit"] * 3


def test_its_backoff_grows_with_jitter(sim, alice, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 5
    sim.faults.server_error(count=-1, status=500, on="create")
    delays = submit_steps(new_generation(alice).pk, 6)
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60, 2 ** max(1, attempt))
        assert ceiling / 2 <= delay <= ceiling


def test_it_waits_for_rivya_then_fails_clearly_when_server_errors_persist(sim, alice, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 3
    sim.faults.server_error(count=-1, status=503, on="create")
    generation = new_generation(alice)
    submit_steps(generation.pk, 5)  # past the attempts: Rivya down is no reason to give up
    assert sim.state.create_requests == 5
    past_time_budget(generation.pk)
    generation = run_until_finished(generation)
    assert generation.error_code == "timed_out"
    assert "so we stopped waiting" in generation.error_message
    assert_released_once(sim, generation)


def test_it_retries_a_create_that_timed_out(sim, alice, settings):
    settings.RIVYA_READ_TIMEOUT = 0.3
    rivya.reset_client()
    sim.faults.timeout(count=1, seconds=1, on="create")
    generation = run_until_finished(new_generation(alice))
    assert sim.state.create_requests == 2
    assert_charged_once(sim, generation)


def test_it_waits_for_rivya_then_fails_clearly_when_timeouts_persist(sim, alice, settings):
    settings.RIVYA_READ_TIMEOUT = 0.2
    settings.SUBMIT_MAX_ATTEMPTS = 2
    rivya.reset_client()
    sim.faults.timeout(count=-1, seconds=0.5, on="create")
    generation = new_generation(alice)
    submit_steps(generation.pk, 3)
    past_time_budget(generation.pk)
    generation = run_until_finished(generation)
    assert generation.error_code == "timed_out"
    assert "so we stopped waiting" in generation.error_message
    assert_released_once(sim, generation)


def test_a_lost_create_answer_gives_one_task_and_one_charge(sim, alice):
    sim.faults.drop_after_create(count=2)
    generation = run_until_finished(new_generation(alice))
    assert sim.state.create_requests == 3  # the task was made by the first; both retries replay
    assert_charged_once(sim, generation)
    task = remote_tasks(sim, generation)[0]
    assert task["idempotency_key"] == task["client_request_id"] == str(generation.uuid)
    assert generation.remote_task_id == task["id"]


@pytest.mark.parametrize("on", ["create", "get"])
def test_it_retries_an_answer_that_is_not_json(sim, alice, on):
    sim.faults.non_json(count=2, on=on)
    generation = run_until_finished(new_generation(alice))
    assert_charged_once(sim, generation)


def test_it_retries_server_errors_while_checking(sim, alice):
    sim.faults.server_error(count=2, status=500, on="get")
    generation = run_until_finished(new_generation(alice))
    assert_charged_once(sim, generation)


@pytest.mark.parametrize("status", [201, 202])
def test_it_accepts_a_create_answered_with(sim, alice, status):
    before = sim.create_status
    sim.create_status = status
    try:
        generation = run_until_finished(new_generation(alice))
    finally:
        sim.create_status = before
    assert_charged_once(sim, generation)


# -- Not retrying what a retry cannot fix ----------------------------------------------------


def test_it_tells_the_member_and_the_admin_about_insufficient_credits(sim, alice):
    sim.state.set_credits(5)
    generation = run_until_finished(new_generation(alice))
    assert sim.state.create_requests == 1
    assert generation.error_code == "insufficient_credits"
    assert "out of credits. An admin has been told" in generation.error_message
    assert "Add credits at rivya.ai" in generation.admin_message
    assert_released_once(sim, generation)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"aspect_ratio": "2:1"}, "params.aspect_ratio must be one of"),
        ({"prompt": "x" * 5001}, "accepts at most 5000"),
    ],
)
def test_it_does_not_retry_what_rivya_calls_invalid(sim, alice, change, detail):
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(**change)
    generation = run_until_finished(generation)
    assert sim.state.create_requests == 1
    assert generation.error_code == "validation_failed"
    assert detail in generation.error_message
    assert generation.error_message.startswith("Rivya did not accept these settings:")
    assert_released_once(sim, generation)


def test_it_releases_the_credits_of_a_generation_rivya_failed(sim, alice):
    generation = run_until_finished(new_generation(alice, prompt="Nope [sim:fail]"))
    assert generation.error_code == "generation_failed"
    assert generation.error_message.startswith("Rivya could not make this image.")
    assert_released_once(sim, generation, tasks=1)


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        (lambda sim: sim.faults.revoked_keys.add(TEST_API_KEY), "api_key_revoked"),
        (lambda sim: sim.faults.expired_keys.add(TEST_API_KEY), "api_key_expired"),
        (lambda sim: setattr(sim.faults, "scope_denied", True), "api_scope_denied"),
    ],
)
def test_it_fails_fast_on_a_key_problem_with_a_message_for_the_admin(sim, alice, switch, code):
    switch(sim)
    generation = run_until_finished(new_generation(alice))
    assert sim.state.create_requests == 1
    assert generation.error_code == code
    assert "Please tell an admin; nothing was charged." in generation.error_message
    assert ("RIVYA_API_KEY" if code != "api_scope_denied" else "lacks a scope") in (
        generation.admin_message
    )
    assert TEST_API_KEY not in generation.error_message + generation.admin_message
    assert_released_once(sim, generation)


def test_it_fails_fast_when_the_key_is_revoked_while_checking(sim, alice):
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    sim.faults.revoked_keys.add(TEST_API_KEY)
    make_due(generation)
    assert lifecycle.poll(generation.pk) is None
    generation.refresh_from_db()
    assert generation.error_code == "api_key_revoked"
    assert sim.state.get_requests == 1


# -- Models that go away ---------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["unavailable_models", "removed_models"])
def test_it_says_the_model_is_gone_when_rivya_refuses_it(sim, alice, switch):
    catalog.imagen_models()  # the form still believes the model is there (cached list)
    generation = new_generation(alice, model="google-imagen4-ultra")
    setattr(sim.faults, switch, {"google-imagen4-ultra"})
    generation = run_until_finished(generation)
    assert sim.state.create_requests == 1
    assert generation.error_code == "model_unavailable"
    assert generation.error_message == (
        "This model is not available at Rivya any more. Pick another model and try again."
    )
    assert generation.status == Status.FAILED
    assert ledger_entries_of(generation) == [("reserve", 12), ("release", 12)]
    assert "google-imagen4-ultra" not in {m.id for m in catalog.available_models()}
    assert "google-imagen4-ultra" in {m.id for m in catalog.unoffered_models()}


def test_it_sends_nothing_for_a_model_the_list_already_marks_gone(sim, alice):
    generation = new_generation(alice, model="google-imagen4-fast")
    sim.faults.removed_models = {"google-imagen4-fast"}
    catalog.forget_models()
    generation = run_until_finished(generation)
    assert sim.state.create_requests == 0
    assert generation.error_code == "model_unavailable"
    assert ledger_entries_of(generation) == [("reserve", 4), ("release", 4)]


def test_other_models_keep_working_when_one_is_gone(sim, alice):
    sim.faults.unavailable_models = {"google-imagen4-ultra"}
    generation = run_until_finished(new_generation(alice, model="google-imagen4-fast"))
    assert_charged_once(sim, generation, credits=4)


# -- Results ---------------------------------------------------------------------------------


def test_it_keeps_every_image_of_a_multi_url_result_primary_first(sim, alice):
    generation = run_until_finished(new_generation(alice, prompt="Two moons [sim:multi]"))
    assert_charged_once(sim, generation)
    urls = remote_tasks(sim, generation)[0]["result"]["urls"]
    images = list(GenerationImage.objects.filter(generation=generation).order_by("position"))
    assert len(images) == len(urls) == 2
    assert images[0].image.name == generation.image.name
    for image, url in zip(images, urls, strict=True):
        with default_storage.open(str(image.image.name)) as stored:
            assert stored.read() == httpx.get(url).content


def test_a_generation_rivya_never_finishes_ends_within_its_budget(sim, alice, settings):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    make_due(generation)
    assert lifecycle.poll(generation.pk) is None
    generation.refresh_from_db()
    assert generation.error_code == "timed_out"
    assert "did not finish this image within" in generation.error_message
    assert ledger_entries_of(generation) == [("reserve", 8), ("release", 8)]


def test_a_late_result_is_recorded_once_without_a_second_charge(sim, alice, settings):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    lifecycle.expire(generation.pk)
    sim.finish_task(Generation.objects.get(pk=generation.pk).remote_task_id)
    lifecycle.poll(generation.pk, force=True)
    lifecycle.poll(generation.pk, force=True)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert_charged_once(sim, generation)
    assert default_storage.exists(str(generation.image.name))
    assert GenerationImage.objects.filter(generation=generation).count() == 1


# -- Per-model params --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "seed"),
    [("google-imagen4", "42"), ("google-imagen4-ultra", "42"), ("google-imagen4-fast", 42)],
)
def test_it_sends_the_seed_as_each_model_documents_it(sim, alice, model, seed):
    generation = new_generation(alice, model=model, seed=42)
    assert lifecycle.submit(generation.pk) is not None
    generation.refresh_from_db()
    sent = sim.state.task(generation.remote_task_id)["body"]["params"]
    assert sent == {"aspect_ratio": "1:1", "seed": seed}


@pytest.mark.parametrize(
    ("model", "ratio"), [("google-imagen4-fast", "16:9"), ("google-imagen4", "1:1")]
)
def test_it_falls_back_to_the_models_own_default_ratio(sim, alice, model, ratio):
    generation = new_generation(alice, model=model, aspect_ratio="")
    assert lifecycle.submit(generation.pk) is not None
    generation.refresh_from_db()
    sent = dict(sim.state.task(generation.remote_task_id)["body"]["params"])
    sent.pop("seed")  # the studio picks one when none is given (tests/test_lifecycle_seed.py)
    assert sent == {"aspect_ratio": ratio}
