"""The lifecycle steps against the real simulator, one step at a time (no Celery)."""

from __future__ import annotations

import io
import logging
import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from generations import catalog, lifecycle
from generations.downloader import MESSAGES
from generations.models import Generation, GenerationImage, LedgerEntry, Status
from generations.rivya import get_client
from tests.support import ledger_entries_of, make_due, new_generation, run_until_finished

pytestmark = pytest.mark.django_db


def test_it_sends_the_uuid_as_idempotency_key_and_client_request_id(sim, alice):
    generation = new_generation(alice)
    step = lifecycle.submit(generation.pk)
    assert step is not None
    assert step.step == "poll"
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    task = sim.state.task(generation.remote_task_id)
    assert task["idempotency_key"] == str(generation.uuid)
    assert task["client_request_id"] == str(generation.uuid)


def test_it_sends_the_params_as_the_model_takes_them(sim, alice):
    imagen = new_generation(alice, seed=42, negative_prompt="people", aspect_ratio="16:9")
    fast = new_generation(alice, model="google-imagen4-fast", seed=7)
    lifecycle.submit(imagen.pk)
    lifecycle.submit(fast.pk)
    imagen.refresh_from_db()
    fast.refresh_from_db()
    sent = sim.state.task(imagen.remote_task_id)["body"]["params"]
    assert sent == {"aspect_ratio": "16:9", "negative_prompt": "people", "seed": "42"}
    assert sim.state.task(fast.remote_task_id)["body"]["params"] == {
        "aspect_ratio": "1:1",
        "seed": 7,
    }


def test_it_leaves_out_an_empty_negative_prompt_and_sends_the_seed_it_picked(sim, alice):
    generation = new_generation(alice)  # no negative prompt, no seed: the studio picks one
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.seed_picked
    sent = sim.state.task(generation.remote_task_id)["body"]["params"]
    assert sent == {"aspect_ratio": "1:1", "seed": str(generation.seed)}


def test_it_stores_the_image_and_thumbnail_before_it_says_done(sim, alice):
    generation = run_until_finished(new_generation(alice))
    assert generation.status == Status.SUCCEEDED
    assert generation.image.name
    assert generation.thumbnail.name
    with default_storage.open(generation.image.name) as f:
        image = Image.open(io.BytesIO(f.read()))
        assert image.size == (generation.width, generation.height) == (1024, 1024)
    with default_storage.open(generation.thumbnail.name) as f:
        assert max(Image.open(io.BytesIO(f.read())).size) <= 512
    assert GenerationImage.objects.filter(generation=generation).count() == 1


def test_it_settles_exactly_once(sim, alice):
    generation = run_until_finished(new_generation(alice))
    assert ledger_entries_of(generation) == [("reserve", 8), ("charge", 8)]
    assert sim.state.credits_charged == 8
    assert sim.state.creates_total == 1


def test_it_keeps_every_image_primary_first(sim, alice):
    generation = run_until_finished(new_generation(alice, prompt="Two moons [sim:multi]"))
    assert generation.status == Status.SUCCEEDED
    images = list(GenerationImage.objects.filter(generation=generation))
    assert [i.position for i in images] == [0, 1]
    assert images[0].image.name == generation.image.name


def test_it_releases_the_reservation_when_rivya_fails_the_task(sim, alice):
    generation = run_until_finished(new_generation(alice, prompt="Nope [sim:fail]"))
    assert generation.status == Status.FAILED
    assert generation.error_code == "generation_failed"
    assert "could not make this image" in generation.error_message
    assert ledger_entries_of(generation) == [("reserve", 8), ("release", 8)]


def test_it_ignores_a_step_another_worker_claimed(sim, alice):
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SENDING, next_check_at=timezone.now() + timedelta(seconds=60)
    )
    assert lifecycle.submit(generation.pk) is None
    assert sim.state.create_requests == 0


def test_it_returns_quietly_for_a_row_that_is_gone(sim):
    assert lifecycle.submit(123456) is None
    assert lifecycle.poll(123456) is None


def test_a_duplicate_poll_message_does_nothing(sim, alice):
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    assert lifecycle.poll(generation.pk) is None  # the next check is not due yet
    assert sim.state.get_requests == 0


def test_it_waits_as_long_as_retry_after_says(sim, alice):
    sim.faults.rate_limit(count=1, retry_after=7, on="create")
    generation = new_generation(alice)
    before = timezone.now()
    step = lifecycle.submit(generation.pk)
    assert step is not None
    assert (step.step, step.delay) == ("submit", 7)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert "wait" in generation.status_note
    assert generation.next_check_at is not None
    assert generation.next_check_at >= before + timedelta(seconds=7)
    assert lifecycle.submit(generation.pk) is None  # too early: nothing is sent
    assert sim.state.create_requests == 1


def test_it_does_not_retry_what_a_retry_cannot_fix(sim, alice):
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(aspect_ratio="2:1")
    assert lifecycle.submit(generation.pk) is None
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "validation_failed"
    assert "Change them and try again" in generation.error_message
    assert sim.state.create_requests == 1
    assert LedgerEntry.objects.filter(generation=generation, kind="release").count() == 1


def test_the_reconciler_finds_overdue_rows(sim, alice):
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(
        next_check_at=timezone.now() - timedelta(minutes=1)
    )
    assert (generation.pk, "queued", False) in lifecycle.overdue_generations()


def test_it_expires_a_generation_past_its_budget_after_one_last_look(sim, alice, settings):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    gets_before = sim.state.get_requests
    lifecycle.expire(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "timed_out"
    assert "did not finish this image within" in generation.error_message
    assert sim.state.get_requests == gets_before + 1
    assert LedgerEntry.objects.filter(generation=generation, kind="release").count() == 1


def test_it_gives_up_on_a_silent_api_but_keeps_looking_for_a_late_result(sim, alice, settings):
    settings.POLL_MAX_ERRORS = 2
    generation = new_generation(alice, prompt="Fog over the bay [sim:never]")
    lifecycle.submit(generation.pk)
    sim.faults.server_error(count=-1, status=503, on="get")
    for _ in range(2):
        make_due(generation)
        lifecycle.poll(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "lost_contact"
    assert "If Rivya finishes it after all, it will still appear here" in generation.error_message
    assert ledger_entries_of(generation) == [("reserve", 8), ("release", 8)]
    assert generation.next_check_at is not None  # the reconciler will look again

    sim.faults.reset()
    sim.finish_task(generation.remote_task_id)
    make_due(generation)
    assert (generation.pk, "failed", False) in lifecycle.overdue_generations()
    lifecycle.look_for_late_result(generation.pk)
    lifecycle.look_for_late_result(generation.pk)  # a duplicate message changes nothing

    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.next_check_at is None
    assert ledger_entries_of(generation) == [("reserve", 8), ("charge", 8)]
    assert sim.state.credits_charged == 8
    assert sim.state.creates_total == 1


def test_it_looks_for_a_late_result_until_rivya_gives_a_final_answer(sim, alice, settings):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    lifecycle.expire(generation.pk)
    make_due(generation)
    lifecycle.look_for_late_result(generation.pk)  # still running at Rivya: look again later
    generation.refresh_from_db()
    assert generation.next_check_at is not None
    assert generation.next_check_at > timezone.now() + timedelta(minutes=9)

    sim.finish_task(generation.remote_task_id, status="failed")
    make_due(generation)
    lifecycle.look_for_late_result(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.next_check_at is None  # final: no more looks
    assert generation.pk not in [row[0] for row in lifecycle.overdue_generations()]
    assert ledger_entries_of(generation) == [("reserve", 8), ("release", 8)]


def test_it_stops_looking_a_day_after_giving_up(sim, alice, settings):
    generation = new_generation(alice, prompt="Slow [sim:never]")
    lifecycle.submit(generation.pk)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    lifecycle.expire(generation.pk)
    Generation.objects.filter(pk=generation.pk).update(
        finished_at=timezone.now() - timedelta(hours=25), next_check_at=timezone.now()
    )
    lifecycle.look_for_late_result(generation.pk)
    generation.refresh_from_db()
    assert generation.next_check_at is None
    gets = sim.state.get_requests
    assert lifecycle.look_for_late_result(generation.pk) is None
    assert sim.state.get_requests == gets


def test_it_saves_the_reservation_with_the_generation_in_one_write(sim, alice):
    model = catalog.find_model("google-imagen4")
    assert model is not None
    with CaptureQueriesContext(connection) as queries:
        generation, created = lifecycle.create(
            alice, form_token=uuid.uuid4(), model=model, prompt="A kite", aspect_ratio="1:1"
        )
    assert created
    assert Generation.objects.get(pk=generation.pk).credits_reserved == 8
    writes = [q["sql"] for q in queries if "generations_generation" in q["sql"]]
    assert not [sql for sql in writes if sql.startswith("UPDATE")]
    assert ledger_entries_of(generation) == [("reserve", 8)]


def test_it_logs_rivyas_request_id_and_keeps_it_for_the_admin(sim, alice, caplog):
    generation = new_generation(alice)
    Generation.objects.filter(pk=generation.pk).update(aspect_ratio="2:1")
    with caplog.at_level(logging.WARNING, logger="generations.lifecycle"):
        lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    request_id = re.search(r"req_[0-9a-f]{24}", generation.admin_message)
    assert request_id is not None
    assert f"Create for generation {generation.pk} got validation_failed" in caplog.text
    assert request_id.group() in caplog.text


def test_it_logs_the_request_id_of_a_refused_status_check(sim, alice, caplog):
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    sim.faults.server_error(count=1, status=503, on="get")
    make_due(generation)
    with caplog.at_level(logging.WARNING, logger="generations.lifecycle"):
        step = lifecycle.poll(generation.pk)
    assert step is not None
    assert step.step == "poll"
    assert re.search(
        rf"Status check for generation {generation.pk} got internal_error "
        r"\(Rivya request id: req_[0-9a-f]{24}\)",
        caplog.text,
    )


def test_it_says_what_a_refused_result_cost_and_why_in_its_own_words(sim, alice):
    generation = run_until_finished(new_generation(alice, prompt="A page [sim:html]"))
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_unsafe"
    assert generation.error_message == (
        "Rivya made this image and charged 8 credits for it, but the studio refused to keep "
        f"the file. {MESSAGES['not_an_image']} Trying again makes a new image, "
        "which Rivya charges again; if this keeps happening, tell an admin."
    )
    assert f"Result of task {generation.remote_task_id} not stored" in generation.admin_message
    assert generation.credits_final == 8
    assert ledger_entries_of(generation) == [("reserve", 8), ("charge", 8)]


def test_a_step_whose_row_was_taken_over_changes_nothing(sim, alice):
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    sim.finish_task(generation.remote_task_id)
    make_due(generation)
    claimed = lifecycle._claim_for_poll(generation.pk, force=False, reclaim=False)
    assert claimed is not None
    # Its lease ran out and another worker claimed the row (a retried task takes it back).
    assert lifecycle._claim_for_poll(generation.pk, force=False, reclaim=True) is not None

    task = get_client().get_generation(str(generation.remote_task_id))
    assert lifecycle.store_result(claimed, task) is None
    assert lifecycle.fail(claimed, "internal_error", "No.") is False

    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    assert not GenerationImage.objects.filter(generation=generation).exists()
    assert ledger_entries_of(generation) == [("reserve", 8)]


def test_the_reconciler_leaves_a_held_row_until_its_lease_runs_out(sim, alice):
    generation = new_generation(alice)
    past = timezone.now() - lifecycle.RECONCILE_GRACE - timedelta(seconds=1)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SENDING, next_check_at=past, lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert generation.pk not in [row[0] for row in lifecycle.overdue_generations()]
    assert lifecycle.submit(generation.pk) is None  # a live worker holds it
    Generation.objects.filter(pk=generation.pk).update(lease_until=past)
    assert (generation.pk, "sending", False) in lifecycle.overdue_generations()
    assert lifecycle.submit(generation.pk) is not None
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    assert generation.lease_until is None
    assert generation.submit_attempts == 1


def test_the_lease_outlasts_the_longest_step(settings):
    assert lifecycle.lease_length() == lifecycle.LEASE  # 30 s + 30 s and a margin: 90 s
    settings.RESULT_DEADLINE_SECONDS = 120
    assert lifecycle.lease_length() == timedelta(seconds=30 + 120 + 30)
