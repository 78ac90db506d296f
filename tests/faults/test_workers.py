"""Fault tests, items 9-16 of docs/reliability.md: workers, broker and database. Real worker
processes, killed with SIGKILL at the named moment; private brokers stopped and started again;
real database locks and cut connections. Both sides are checked: our rows and ledger, and the
simulator's own record."""

from __future__ import annotations

import base64
import functools
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook

from generations import lifecycle, tasks
from generations.models import Generation, Status
from imagen_site import broker as embedded_broker
from tests.faults.processes import Broker, RedisServer
from tests.support import (
    RESERVED_AND_CHARGED,
    RESERVED_AND_RELEASED,
    finished,
    images_of,
    ledger_entries_of,
    let_lease_run_out,
    media_files,
    new_generation,
    remote_tasks_for,
    wait_for,
    wait_until_status,
)

pytestmark = [pytest.mark.slow]


def assert_one_charged_result(sim, generation: Generation) -> None:
    """One remote task, one stored image, one reservation and one charge, on both sides."""
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.error_message
    remote = remote_tasks_for(sim, generation)
    assert [t.id for t in remote] == [generation.remote_task_id]
    assert images_of(generation) == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    assert sim.state.credits_charged == 8


@pytest.mark.fault(9)
def test_it_reuses_the_key_after_a_worker_dies_between_the_post_and_saving_the_id(
    sim, workers, alice, create_gate
):
    worker = workers.start()
    generation = new_generation(alice)
    tasks.enqueue_submit(generation.pk)
    assert create_gate.created.wait(20), "the worker never sent the create request"

    worker.kill()  # Rivya has the task; the answer never reaches a live worker
    create_gate.release()
    generation.refresh_from_db()
    assert generation.status == Status.SENDING
    assert generation.remote_task_id is None
    assert sim.state.creates_total == 1

    workers.start()
    let_lease_run_out(generation.pk)
    assert tasks.reconcile() == 1
    wait_for(lambda: finished(generation.pk), timeout=60)

    assert_one_charged_result(sim, generation)
    assert sim.state.create_requests == 2  # the retry was sent, and answered with the same task
    assert sim.state.creates_total == 1


@pytest.mark.fault(10)
def test_it_stores_exactly_one_image_after_a_worker_dies_while_downloading(
    sim, workers, alice, download_counter
):
    worker = workers.start()
    generation = new_generation(alice, prompt="A slow harbour [sim:drip]")
    tasks.enqueue_submit(generation.pk)
    wait_until_status(generation.pk, Status.DOWNLOADING)
    wait_for(lambda: download_counter() == 1, timeout=30)  # the result is dripping in

    worker.kill()
    generation.refresh_from_db()
    assert generation.status == Status.DOWNLOADING
    assert images_of(generation) == 0
    assert media_files("generations") == []  # nothing half-written is kept
    sim.state.task(generation.remote_task_id).result_mode = "ok"  # the file server is well again

    workers.start()
    let_lease_run_out(generation.pk)
    assert tasks.reconcile() == 1
    wait_for(lambda: finished(generation.pk), timeout=60)

    assert_one_charged_result(sim, generation)
    assert len(media_files("generations")) == 1
    assert len(media_files("thumbnails")) == 1
    assert download_counter() == 2


def make_broker_unavailable(kind: str, broker: Broker, request) -> tuple[str, Callable[[], object]]:
    """The embedded broker's folder gone, or a private Redis stopped: the URL workers should
    use, and a way to bring the broker back."""
    if kind == "embedded":
        Broker("", broker.data_dir).use()  # on the production tier too: this test's own folder
        (broker.folder / "out").rename(broker.folder / "out-away")
        away = broker.folder / "out-away"
        return embedded_broker.URL, lambda: away.rename(broker.folder / "out")
    redis: RedisServer = request.getfixturevalue("private_redis")
    Broker(redis.url, broker.data_dir).use()
    redis.kill()
    return redis.url, redis.start


@pytest.mark.fault(11)
@pytest.mark.parametrize("kind", ["embedded", pytest.param("redis", marks=pytest.mark.services)])
def test_it_saves_a_submit_while_the_broker_is_down_and_sends_it_once_later(
    kind, sim, workers, broker, alice_client, form_data, request, caplog
):
    broker_url, bring_back = make_broker_unavailable(kind, broker, request)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="generations.tasks"):
        response = alice_client.post("/generations/", form_data())
    answered_in = time.monotonic() - started

    assert response.status_code == 302
    assert answered_in < 3.0
    assert "Could not enqueue generation" in caplog.text  # the broker really was down
    generation = Generation.objects.get()
    assert generation.status == Status.QUEUED
    page = alice_client.get("/").content.decode()
    assert f'id="gen-{generation.pk}"' in page
    assert "Queued" in page

    bring_back()
    workers.start(CELERY_BROKER_URL=broker_url)
    let_lease_run_out(generation.pk)
    assert tasks.reconcile() == 1
    wait_for(lambda: finished(generation.pk), timeout=60)
    assert_one_charged_result(sim, generation)
    assert sim.state.create_requests == 1


def restart_broker(kind: str, workers, broker: Broker, redis, beat_env: dict[str, str]) -> None:
    """Embedded: the broker lives in the worker's process and folder, so a restart is the worker
    killed and its folder emptied. Redis: the server killed and started empty."""
    if kind == "embedded":
        for worker in workers.started:
            worker.kill()
        for message in (broker.folder / "out").iterdir():
            message.unlink()
        workers.start(beat=True, **beat_env)
    else:
        redis.kill()
        redis.start()


@pytest.mark.fault(12)
@pytest.mark.parametrize("kind", ["embedded", pytest.param("redis", marks=pytest.mark.services)])
def test_it_checks_every_unfinished_generation_again_after_a_broker_restart(
    kind, sim, workers, broker, alice, request
):
    redis = None
    env = {"RECONCILE_EVERY_SECONDS": "1"}
    if kind == "redis":
        redis = request.getfixturevalue("private_redis")
        Broker(redis.url, broker.data_dir).use()
        env["CELERY_BROKER_URL"] = redis.url
    else:  # on the production tier too: this test's own filesystem broker
        Broker("", broker.data_dir).use()
        env["CELERY_BROKER_URL"] = embedded_broker.URL
    workers.start(beat=True, **env)
    generations = [new_generation(alice, prompt=f"Kite {n} [sim:delay=4]") for n in range(3)]
    for generation in generations:
        tasks.enqueue_submit(generation.pk)
    for generation in generations:
        wait_until_status(generation.pk, Status.PROCESSING)

    restart_broker(kind, workers, broker, redis, env)
    restarted = time.monotonic()
    # Celery 5.7's worker exits on a lost Redis connection ("Unrecoverable error" while
    # restoring unacked messages); in production its supervisor starts it again, as here.
    supervised = [0]

    def all_finished() -> bool:
        supervised[0] += workers.restart_exited()
        return all(finished(g.pk) for g in generations)

    wait_for(all_finished, timeout=90, every=0.2)
    took = time.monotonic() - restarted

    for generation in generations:
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED, generation.error_message
        assert [t.id for t in remote_tasks_for(sim, generation)] == [generation.remote_task_id]
        assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    # The last poll was due ~2.5 s after processing; the reconciler waits 10 s past a due check
    # and runs every second: all must be seen again well within this.
    assert took < 30, f"took {took:.1f} s"


class HeldLock:
    """Make the database unreachable for writes for a while: on SQLite an exclusive lock held
    from another connection (longer than the 5 s busy timeout), on PostgreSQL every other
    connection to the test database terminated."""

    def __init__(self) -> None:
        self.sqlite: sqlite3.Connection | None = None

    def cut(self) -> None:
        if connection.vendor == "sqlite":
            self.sqlite = sqlite3.connect(connection.settings_dict["NAME"], timeout=10)
            self.sqlite.execute("BEGIN EXCLUSIVE")
            return
        # With a timeout, pg_terminate_backend waits until each backend is gone (without one
        # it only signals, and a write made in the next milliseconds could still get through).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    def restore(self) -> None:
        if self.sqlite is not None:
            self.sqlite.rollback()
            self.sqlite.close()
            self.sqlite = None


@pytest.mark.fault(13)
def test_it_retries_a_task_whose_database_went_away_with_nothing_half_applied(
    sim, workers, alice, create_gate
):
    worker = workers.start()
    generation = new_generation(alice)
    tasks.enqueue_submit(generation.pk)
    assert create_gate.created.wait(20)
    outage = HeldLock()
    outage.cut()  # the worker's next write (saving the remote id) cannot reach the database
    create_gate.release()
    try:
        if connection.vendor == "sqlite":
            time.sleep(6.5)  # past the 5 s busy timeout: the write fails, the task retries
            generation_now = Generation.objects.get(pk=generation.pk)  # WAL: reads still work
            assert generation_now.status == Status.SENDING  # all or nothing
            assert generation_now.remote_task_id is None
    finally:
        outage.restore()

    wait_for(lambda: finished(generation.pk), timeout=60)
    assert_one_charged_result(sim, generation)
    assert "retry: Retry in" in worker.output()
    assert sim.state.creates_total == 1


def install_refusing_trigger(generation_id: int, *, retry_can_fix: bool = True) -> str:
    """A database fault for one row: any attempt to claim it for sending fails. With
    ``retry_can_fix``, as an error a retry is made for (OperationalError: on SQLite a run-time
    SQL error, on PostgreSQL a serialization failure), otherwise as one it is not (an
    IntegrityError on SQLite, an InternalError on PostgreSQL)."""
    message = "fault 15: this row cannot be claimed"
    if connection.vendor == "sqlite":
        # json_extract with a bad path fails at run time (OperationalError), naming the path.
        action = f"SELECT json_extract('{{}}', '{message}')"
        if not retry_can_fix:
            action = f"SELECT RAISE(ABORT, '{message}')"
        sql = [
            f"CREATE TRIGGER fault15 BEFORE UPDATE OF status ON generations_generation "
            f"WHEN OLD.id = {generation_id} AND NEW.status = 'sending' "
            f"BEGIN {action}; END"
        ]
        drop = "DROP TRIGGER IF EXISTS fault15"
    else:
        code = "USING ERRCODE = 'serialization_failure'" if retry_can_fix else ""
        sql = [
            "CREATE OR REPLACE FUNCTION fault15_refuse() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{message}' {code}; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER fault15 BEFORE UPDATE ON generations_generation FOR EACH ROW "
            f"WHEN (OLD.id = {generation_id} AND NEW.status = 'sending') "
            f"EXECUTE FUNCTION fault15_refuse()",
        ]
        drop = "DROP TRIGGER IF EXISTS fault15 ON generations_generation"
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
    return drop


@pytest.mark.fault(15)
def test_it_stops_retrying_a_task_that_keeps_failing_and_fails_only_that_generation(
    sim, workers, alice
):
    doomed = new_generation(alice, prompt="A doomed kite")
    drop = install_refusing_trigger(doomed.pk)
    try:
        worker = workers.start(TASK_MAX_RETRIES="3", TASK_RETRY_BACKOFF_MAX="1")
        tasks.enqueue_submit(doomed.pk)
        healthy = [new_generation(alice, prompt=f"A healthy kite {n}") for n in range(2)]
        for generation in healthy:
            tasks.enqueue_submit(generation.pk)
        for generation in healthy:
            wait_for(functools.partial(finished, generation.pk), timeout=60)
        wait_for(lambda: finished(doomed.pk), timeout=60)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(drop)

    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert doomed.error_code == "internal_error"
    assert "Something went wrong on our side" in doomed.error_message
    assert worker.output().count("fault 15: this row cannot be claimed") >= 4  # 1 + 3 retries
    assert "retry: Retry in" in worker.output()
    assert ledger_entries_of(doomed) == RESERVED_AND_RELEASED
    assert remote_tasks_for(sim, doomed) == []
    for generation in healthy:
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED
        assert ledger_entries_of(generation) == RESERVED_AND_CHARGED


@pytest.mark.fault(16)
def test_it_fails_a_generation_past_its_time_budget_and_records_a_late_result_once(sim, alice):
    generation = new_generation(alice, prompt="A ship that never docks [sim:never]")
    assert lifecycle.submit(generation.pk) is not None
    generation.refresh_from_db()
    budget = settings.GENERATION_TIME_BUDGET_SECONDS
    Generation.objects.filter(pk=generation.pk).update(
        created_at=generation.created_at - timedelta(seconds=budget + 1)
    )

    assert (generation.pk, Status.PROCESSING, True) in lifecycle.overdue_generations()
    lifecycle.expire(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "timed_out"
    assert "did not finish this image within 30 minutes" in generation.error_message
    assert ledger_entries_of(generation) == RESERVED_AND_RELEASED

    sim.finish_task(generation.remote_task_id)  # Rivya finishes after all (a webhook says so)
    lifecycle.poll(generation.pk, force=True)
    lifecycle.poll(generation.pk, force=True)  # the webhook delivered twice

    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert images_of(generation) == 1
    assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    assert sim.state.credits_charged == 8
    assert len(remote_tasks_for(sim, generation)) == 1


@pytest.mark.fault(15)
@pytest.mark.django_db(transaction=True)
def test_it_does_not_retry_a_database_error_a_retry_cannot_fix(sim, alice, monkeypatch):
    doomed = new_generation(alice, prompt="A doomed kite")
    drop = install_refusing_trigger(doomed.pk, retry_can_fix=False)
    runs = []
    submit = lifecycle.submit

    def counted_submit(*args, **kwargs):
        runs.append(args)
        return submit(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "submit", counted_submit)
    try:
        tasks.submit_generation.apply((doomed.pk,))  # in this process, retries included
    finally:
        with connection.cursor() as cursor:
            cursor.execute(drop)

    assert len(runs) == 1  # the same statement would fail the same way again
    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert doomed.error_code == "internal_error"
    assert ledger_entries_of(doomed) == RESERVED_AND_RELEASED
    assert remote_tasks_for(sim, doomed) == []


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fault-14-webhook-secret-bytes!!").decode()


def signed_webhook(task_object: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    event_id = f"evt_{task_object['id']}"
    body = json.dumps({"id": event_id, "type": "generation.succeeded", "data": task_object})
    now = datetime.now(tz=UTC)
    signature = Webhook(WEBHOOK_SECRET).sign(event_id, now, body)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


@pytest.mark.fault(14)
def test_it_makes_one_transition_download_and_settlement_when_webhook_and_poll_race(
    sim, workers, alice, settings, download_counter
):
    settings.RIVYA_WEBHOOK_SECRET = WEBHOOK_SECRET
    workers.start(concurrency=4)
    generations = [new_generation(alice, prompt=f"Race {n} [sim:never]") for n in range(3)]
    for generation in generations:
        tasks.enqueue_submit(generation.pk)
    for generation in generations:
        wait_until_status(generation.pk, Status.PROCESSING)

    client = Client()
    for generation in generations:
        generation.refresh_from_db()
        task_object = sim.finish_task(generation.remote_task_id)
        body, headers = signed_webhook(task_object)
        Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())
        tasks.poll_generation.delay(generation.pk)  # the scheduled poll, due now
        response = client.post(  # and the webhook, at the same moment
            "/webhooks/rivya/", body, content_type="application/json",
            headers={k.replace("-", "_"): v for k, v in headers.items()},
        )  # fmt: skip
        assert response.status_code == 200, response.content
    for generation in generations:
        wait_for(functools.partial(finished, generation.pk), timeout=60)

    for generation in generations:
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED
        assert images_of(generation) == 1
        assert ledger_entries_of(generation) == RESERVED_AND_CHARGED
    assert download_counter() == len(generations)  # one download each, counted by the simulator
    assert sim.state.credits_charged == 8 * len(generations)
