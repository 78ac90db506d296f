"""Webhooks end to end: the simulator delivers to the app on a live server, a Celery worker runs
the check it triggers. A valid webhook makes the app ask the API at once; a bad signature, an
old timestamp or a replayed id changes nothing; the payload's own result is never used."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from generations import lifecycle, tasks
from generations.models import Generation, GenerationImage, Status, WebhookEvent
from tests.support import finished, ledger_entries_of, new_generation, wait_for

SECRET = "whsec_" + base64.b64encode(b"contract-tests-webhook-secret!!").decode()


@pytest.fixture
def webhooks_on(sim, live_server, settings):
    """The simulator delivers to this test run's live server, signed with the app's secret."""
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    sim.set_webhook(f"{live_server.url}/webhooks/rivya/", SECRET)
    yield sim
    sim.set_webhook(None, None)


def submitted_and_parked(user, prompt: str) -> Generation:
    """Sent to Rivya with no poll due for an hour: only a webhook can make the app look now."""
    generation = new_generation(user, prompt=prompt)
    assert lifecycle.submit(generation.pk) is not None
    Generation.objects.filter(pk=generation.pk).update(
        next_check_at=timezone.now() + timedelta(hours=1)
    )
    return Generation.objects.get(pk=generation.pk)


def attempts(sim, count: int):
    wait_for(lambda: len(sim.state.webhooks_sent) >= count, timeout=10)
    assert sim.wait_for_webhooks(timeout=10)
    return sim.state.webhooks_sent


@pytest.mark.django_db(transaction=True)
def test_a_webhook_makes_the_app_check_the_task_at_once(webhooks_on, celery_worker, alice):
    sim = webhooks_on
    generation = submitted_and_parked(alice, "A harbour at dusk [sim:delay=1]")
    done = wait_for(lambda: finished(generation.pk), timeout=60)
    assert done.status == Status.SUCCEEDED
    assert sim.state.get_requests == 1  # the one check the webhook asked for
    assert [(w.type, w.status_code) for w in sim.state.webhooks_sent] == [
        ("generation.succeeded", 200)
    ]
    assert ledger_entries_of(done) == [("reserve", 8), ("charge", 8)]
    assert sim.state.credits_charged == 8


@pytest.mark.django_db(transaction=True)
def test_a_failed_webhook_fails_the_generation_at_once(webhooks_on, celery_worker, alice):
    generation = submitted_and_parked(alice, "Nope [sim:fail] [sim:delay=1]")
    done = wait_for(lambda: finished(generation.pk), timeout=60)
    assert done.status == Status.FAILED
    assert done.error_code == "generation_failed"
    assert ledger_entries_of(done) == [("reserve", 8), ("release", 8)]


@pytest.mark.parametrize("mode", ["bad_signature", "stale_timestamp"])
@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_fails_verification_changes_nothing(webhooks_on, celery_worker, alice, mode):
    sim = webhooks_on
    sim.faults.webhook_mode = mode
    generation = submitted_and_parked(alice, "A harbour at dusk [sim:delay=0.5]")
    sent = attempts(sim, 4)  # the first delivery and the simulator's three retries
    assert [w.status_code for w in sent] == [400] * 4
    assert sim.state.get_requests == 0
    assert WebhookEvent.objects.count() == 0
    after = Generation.objects.get(pk=generation.pk)
    assert (after.status, after.next_check_at) == (Status.PROCESSING, generation.next_check_at)


@pytest.mark.django_db(transaction=True)
def test_a_replayed_webhook_is_ignored(webhooks_on, celery_worker, alice):
    sim = webhooks_on
    sim.faults.webhook_mode = "replay"
    generation = submitted_and_parked(alice, "A harbour at dusk [sim:delay=1]")
    sent = attempts(sim, 2)
    assert [w.status_code for w in sent] == [200, 200]
    assert sent[0].event_id == sent[1].event_id
    assert WebhookEvent.objects.count() == 1
    done = wait_for(lambda: finished(generation.pk), timeout=60)
    assert done.status == Status.SUCCEEDED
    assert ledger_entries_of(done) == [("reserve", 8), ("charge", 8)]


# -- Signed by hand: what the simulator does not send ------------------------------------------


def signed(payload: dict[str, Any], event_id: str = "msg_1", when: datetime | None = None):
    body = json.dumps(payload)
    stamp = when or datetime.now(tz=UTC)
    return {
        "data": body,
        "content_type": "application/json",
        "headers": {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(event_id, stamp, body),
        },
    }


def envelope(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "type": f"generation.{task['status']}", "data": task}


@pytest.fixture
def checks(monkeypatch):
    """The checks a webhook enqueues, recorded instead of sent to a broker."""
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.poll_generation, "delay", lambda *a, **kw: seen.append((a, kw)))
    return seen


@pytest.mark.django_db(transaction=True)
def test_it_never_trusts_the_result_in_the_payload(webhooks_on, celery_worker, alice, client):
    sim = webhooks_on
    generation = submitted_and_parked(alice, "Slow [sim:never]")
    lie = {
        "id": generation.remote_task_id,
        "status": "succeeded",
        "final_credits": 0,
        "result": {"primary_url": "https://evil.test/x.png", "urls": ["https://evil.test/x.png"]},
    }
    response = client.post("/webhooks/rivya/", **signed(envelope(lie)))
    assert response.json() == {"status": "ok"}
    wait_for(
        lambda: Generation.objects.get(pk=generation.pk).remote_status == "processing", timeout=10
    )
    after = Generation.objects.get(pk=generation.pk)
    assert after.status == Status.PROCESSING  # Rivya says processing: the payload's lie is ignored
    assert sim.state.get_requests >= 1  # the check it triggered (and the polls that follow)
    assert not GenerationImage.objects.filter(generation=generation).exists()


@pytest.mark.django_db
def test_it_checks_once_for_the_same_id_sent_twice(sim, settings, alice, client, checks):
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    generation = submitted_and_parked(alice, "Slow [sim:never]")
    request = signed(envelope({"id": generation.remote_task_id, "status": "succeeded"}))
    first = client.post("/webhooks/rivya/", **request)
    again = client.post("/webhooks/rivya/", **request)
    assert (first.json(), again.json()) == ({"status": "ok"}, {"status": "already seen"})
    assert checks == [((generation.pk,), {"force": True})]


@pytest.mark.django_db
def test_it_refuses_a_timestamp_older_than_five_minutes(sim, settings, alice, client, checks):
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    generation = submitted_and_parked(alice, "Slow [sim:never]")
    old = datetime.now(tz=UTC) - timedelta(minutes=5, seconds=30)
    task = {"id": generation.remote_task_id, "status": "succeeded"}
    response = client.post("/webhooks/rivya/", **signed(envelope(task), when=old))
    assert response.status_code == 400
    assert checks == []
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_a_body_changed_after_signing(sim, settings, alice, client, checks):
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    generation = submitted_and_parked(alice, "Slow [sim:never]")
    request = signed(envelope({"id": generation.remote_task_id, "status": "failed"}))
    request["data"] = request["data"].replace("failed", "succeeded")
    assert client.post("/webhooks/rivya/", **request).status_code == 400
    assert checks == []


@pytest.mark.django_db
def test_it_ignores_a_webhook_for_a_task_it_does_not_know(settings, client, checks):
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    task = {"id": "task_" + secrets.token_hex(12), "status": "succeeded"}
    response = client.post("/webhooks/rivya/", **signed(envelope(task)))
    assert response.json() == {"status": "unknown task"}
    assert checks == []


@pytest.mark.django_db
def test_it_answers_404_when_webhooks_are_not_enabled(client, checks):
    task = {"id": "task_1", "status": "succeeded"}
    assert client.post("/webhooks/rivya/", **signed(envelope(task))).status_code == 404
    assert checks == []
