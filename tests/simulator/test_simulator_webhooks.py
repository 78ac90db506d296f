"""Webhooks: Standard Webhooks signatures, the spoiled modes, retries, and the records."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from rivya_sim import Simulator
from tests.simulator.support import API_KEY, WEBHOOK_SECRET, Receiver, post, wait_until_finished
from tests.support import wait_for


@pytest.fixture
def hooked(sim: Simulator, receiver: Receiver) -> Receiver:
    sim.set_webhook(receiver.url, WEBHOOK_SECRET)
    return receiver


def test_it_sends_a_verifiable_webhook_when_a_task_succeeds(sim, create, hooked):
    task_id = create().json()["id"]
    wait_for(lambda: hooked.received)
    headers, body = hooked.received[0]
    event = Webhook(WEBHOOK_SECRET).verify(body, headers)
    assert event["id"].startswith("evt_")
    assert event["id"] == headers["webhook-id"]
    assert event["type"] == "generation.succeeded"
    assert event["api_version"] == "2026-05-11"
    assert event["created_at"].endswith("Z")
    assert event["data"]["id"] == task_id
    assert event["data"]["status"] == "succeeded"
    assert event["data"]["result"]["primary_url"].endswith("/1.png")
    assert headers["content-type"] == "application/json"
    assert sim.wait_for_webhooks()
    record = sim.state.webhooks_sent[0]
    assert (record.event_id, record.type, record.task_id) == (event["id"], event["type"], task_id)
    assert (record.status_code, record.error) == (204, None)


def test_it_sends_a_failed_event_for_a_failed_task(sim, create, hooked):
    create(prompt="Nope [sim:fail]")
    wait_for(lambda: hooked.received)
    event = Webhook(WEBHOOK_SECRET).verify(hooked.received[0][1], hooked.received[0][0])
    assert event["type"] == "generation.failed"
    assert event["data"]["error"]["code"] == "generation_failed"


def test_it_can_sign_with_the_wrong_secret(sim, create, hooked):
    sim.faults.webhook_mode = "bad_signature"
    create()
    wait_for(lambda: hooked.received)
    headers, body = hooked.received[0]
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(WEBHOOK_SECRET).verify(body, headers)


def test_it_can_send_an_old_timestamp(sim, create, hooked):
    sim.faults.webhook_mode = "stale_timestamp"
    create()
    wait_for(lambda: hooked.received)
    headers, body = hooked.received[0]
    assert time.time() - int(headers["webhook-timestamp"]) >= 590
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(WEBHOOK_SECRET).verify(body, headers)
    stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)
    signature = Webhook(WEBHOOK_SECRET).sign(headers["webhook-id"], stamp, body.decode())
    assert headers["webhook-signature"] == signature  # correctly signed, just stale


def test_it_can_replay_the_same_event(sim, create, hooked):
    sim.faults.webhook_mode = "replay"
    create()
    wait_for(lambda: len(hooked.received) == 2)
    (first_headers, first_body), (second_headers, second_body) = hooked.received
    assert first_headers["webhook-id"] == second_headers["webhook-id"]
    assert first_headers["webhook-signature"] == second_headers["webhook-signature"]
    assert first_body == second_body


def test_it_can_send_nothing(sim, client, create, hooked):
    sim.faults.webhook_mode = "none"
    wait_until_finished(client, create().json()["id"])
    assert sim.wait_for_webhooks()
    time.sleep(0.1)
    assert hooked.received == []
    assert sim.state.webhooks_sent == []


def test_it_retries_until_the_receiver_says_2xx(sim, create, hooked):
    hooked.answers = [500, 503]
    create()
    wait_for(lambda: len(sim.state.webhooks_sent) == 3)
    records = sim.state.webhooks_sent
    assert [r.status_code for r in records] == [500, 503, 204]
    assert [r.attempt for r in records] == [1, 2, 3]
    assert len({r.event_id for r in records}) == 1


def test_it_records_a_receiver_it_cannot_reach(sim, create):
    sim.set_webhook("http://127.0.0.1:9/closed", WEBHOOK_SECRET)
    create()
    wait_for(lambda: sim.state.webhooks_sent)
    record = sim.state.webhooks_sent[0]
    assert record.status_code is None
    assert "ConnectError" in (record.error or "")


def test_it_takes_the_webhook_target_over_http(sim, client, create, receiver):
    response = client.post("/_sim/webhook", json={"url": receiver.url, "secret": WEBHOOK_SECRET})
    assert response.json() == {"webhook_url": receiver.url}
    create()
    wait_for(lambda: receiver.received)
    assert client.post("/_sim/webhook", json={"url": receiver.url}).status_code == 400
    bad = client.post("/_sim/webhook", json={"url": receiver.url, "secret": "whsec_!!"})
    assert bad.status_code == 400


def test_it_takes_the_webhook_target_at_construction(receiver):
    simulator = Simulator(
        api_key=API_KEY, delay=0.05, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET
    )
    with simulator.start() as sim:
        post(
            f"{sim.base_url}/api/v1/generations",
            json={"model": "z-image", "prompt": "p"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        wait_for(lambda: receiver.received)
    headers, body = receiver.received[0]
    assert Webhook(WEBHOOK_SECRET).verify(body, headers)["type"] == "generation.succeeded"
