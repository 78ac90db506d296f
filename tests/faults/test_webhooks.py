"""Fault tests, item 20 of docs/reliability.md: a webhook is believed only when it is signed,
fresh and new; then it only asks a worker to check the task now. Anything else is refused or
ignored, and nothing changes."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.forms.models import model_to_dict
from standardwebhooks import Webhook

from generations import lifecycle
from generations.models import Generation, LedgerEntry, Status, WebhookEvent
from tests.support import new_generation

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"the studio's webhook secret, 32b").decode()
URL = "/webhooks/rivya/"


@pytest.fixture
def webhook_secret(settings):
    settings.RIVYA_WEBHOOK_SECRET = SECRET
    return SECRET


@pytest.fixture
def checks():
    """The poll task, replaced: what a webhook asked a worker to do."""
    with mock.patch("generations.tasks.poll_generation") as task:
        yield task


def enqueued(task: mock.MagicMock) -> list[tuple[object, ...]]:
    return [c.args + tuple(c.kwargs.items()) for c in task.delay.call_args_list] + [
        tuple(c.args) for c in task.apply_async.call_args_list
    ]


@pytest.fixture
def processing(sim, alice):
    """A generation Rivya is working on."""
    generation = new_generation(alice)
    lifecycle.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    return generation


def event(task_id: str, event_id: str = "evt_0123456789abcdef01234567") -> tuple[str, str]:
    body = {
        "id": event_id,
        "type": "generation.succeeded",
        "api_version": "2026-05-11",
        "created_at": datetime.now(UTC).isoformat(),
        "data": {"id": task_id, "status": "succeeded", "result": {"urls": ["https://x/y.png"]}},
    }
    return event_id, json.dumps(body)


def post(client, body: str, event_id: str, *, secret: str = SECRET, when=None, **changes):
    when = when or datetime.now(UTC)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, when, body),
    }
    headers.update(changes)
    return client.post(URL, body, content_type="application/json", headers=headers)


def snapshot() -> dict[str, object]:
    return {
        "generations": [model_to_dict(g) for g in Generation.objects.order_by("pk")],
        "ledger": list(LedgerEntry.objects.order_by("pk").values()),
        "events": list(WebhookEvent.objects.values_list("event_id", flat=True)),
    }


@pytest.mark.fault(20)
def test_it_asks_for_a_check_on_a_good_webhook(client, webhook_secret, processing, checks):
    event_id, body = event(processing.remote_task_id)
    response = post(client, body, event_id)
    assert response.status_code == 200
    assert enqueued(checks) == [(processing.pk, ("force", True))]
    # The payload's result is not trusted: the row is as it was until a worker asks Rivya.
    processing.refresh_from_db()
    assert processing.status == Status.PROCESSING


@pytest.mark.fault(20)
@pytest.mark.parametrize(
    "spoil",
    [
        {"secret": "whsec_" + base64.b64encode(b"somebody else's secret, 32 bytes").decode()},
        {"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        {"webhook-signature": ""},
        {"webhook-id": "evt_a_different_id"},  # the signature covers the id
        {"when": datetime.now(UTC) - timedelta(minutes=10)},  # signed, but old
        {"when": datetime.now(UTC) + timedelta(minutes=10)},  # signed, from the future
        {"webhook-timestamp": "yesterday"},
    ],
    ids=["other-secret", "wrong-mac", "no-signature", "other-id", "old", "future", "bad-time"],
)
def test_it_refuses_a_webhook_it_cannot_believe(client, webhook_secret, processing, checks, spoil):
    event_id, body = event(processing.remote_task_id)
    before = snapshot()
    response = post(client, body, event_id, **spoil)
    assert response.status_code == 400
    assert enqueued(checks) == []
    assert snapshot() == before


@pytest.mark.fault(20)
def test_it_refuses_a_body_changed_after_signing(client, webhook_secret, processing, checks):
    event_id, body = event(processing.remote_task_id)
    when = datetime.now(UTC)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(event_id, when, body),
    }
    before = snapshot()
    tampered = body.replace("succeeded", "failed")
    response = client.post(URL, tampered, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert enqueued(checks) == []
    assert snapshot() == before


@pytest.mark.fault(20)
def test_it_ignores_a_webhook_it_has_already_seen(client, webhook_secret, processing, checks):
    event_id, body = event(processing.remote_task_id)
    first = post(client, body, event_id)
    before = snapshot()
    again = post(client, body, event_id)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "already seen"}
    assert len(enqueued(checks)) == 1
    assert snapshot() == before


@pytest.mark.fault(20)
def test_it_logs_and_ignores_a_webhook_for_an_unknown_task(
    client, webhook_secret, processing, checks, caplog
):
    event_id, body = event("task_ffffffffffffffffffffffff")
    before = snapshot()
    with caplog.at_level(logging.INFO, logger="generations.webhooks"):
        response = post(client, body, event_id)
    assert response.status_code == 200
    assert response.json() == {"status": "unknown task"}
    assert enqueued(checks) == []
    assert any("task_ffffffffffffffffffffffff" in r.getMessage() for r in caplog.records)
    after = snapshot()
    assert after["generations"] == before["generations"]
    assert after["ledger"] == before["ledger"]


@pytest.mark.fault(20)
def test_it_answers_404_when_webhooks_are_off(client, processing, checks):
    event_id, body = event(processing.remote_task_id)
    before = snapshot()
    response = post(client, body, event_id)  # signed, but the studio has no secret set
    assert response.status_code == 404
    assert enqueued(checks) == []
    assert snapshot() == before
