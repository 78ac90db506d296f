"""Webhook deliveries on terminal transitions, signed per Standard Webhooks.

Assumptions where the contract is silent (its Unknowns 1, 3 and 4):

- The envelope is ``{"id": "evt_<24 hex>", "type": "generation.succeeded" | "generation.failed",
  "api_version": "2026-05-11", "created_at": <ISO time>, "data": <task object>}``; ``data`` is our
  name for the key holding the task.
- Signing follows Standard Webhooks: headers ``webhook-id`` (the event id),
  ``webhook-timestamp`` (unix seconds of the attempt) and ``webhook-signature``
  (``v1,<base64 HMAC-SHA256>``), made with the ``standardwebhooks`` package.
- Any 2xx answer is success. Anything else (another status, a timeout, a refused connection) is
  retried up to 3 more times, after 0.2 s, 0.5 s and 1 s; each attempt is recorded in
  ``state.webhooks_sent``. Redirects are not followed; the timeout is 5 s.
- Delivery runs on a few worker threads so a slow receiver never holds up the task ticker; the
  order in which events for different tasks arrive is therefore not guaranteed.
- ``webhook_mode`` is read when the task finishes: ``bad_signature`` signs with another secret,
  ``stale_timestamp`` signs correctly but with a timestamp 10 minutes old, ``replay`` sends the
  identical request (same id, timestamp and signature) twice in a row, ``none`` sends nothing
  (and records nothing).
"""

from __future__ import annotations

import heapq
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from rivya_sim.state import State, WebhookRecord, iso_ms

API_VERSION = "2026-05-11"
RETRY_DELAYS = (0.2, 0.5, 1.0)
TIMEOUT_SECONDS = 5.0
STALE_BY = timedelta(minutes=10)
# A well-formed secret that is not the receiver's, for the "bad_signature" mode.
WRONG_SECRET = "whsec_" + "d3Jvbmcgc2VjcmV0IGZvciB0aGUgc2ltdWxhdG9y"


@dataclass(frozen=True)
class Delivery:
    """One event to deliver to one receiver."""

    event_id: str
    event_type: str
    task_id: str
    payload: str
    url: str
    secret: str
    mode: str
    attempt: int = 1


def make_delivery(task: dict[str, Any], url: str, secret: str, mode: str) -> Delivery:
    """The event for a task that just reached a terminal status."""
    event_id = "evt_" + secrets.token_hex(12)
    event_type = f"generation.{task['status']}"
    envelope = {
        "id": event_id,
        "type": event_type,
        "api_version": API_VERSION,
        "created_at": iso_ms(time.time()),
        "data": task,
    }
    payload = json.dumps(envelope, separators=(",", ":"))
    return Delivery(event_id, event_type, task["id"], payload, url, secret, mode)


def signed_headers(delivery: Delivery, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers, spoiled as the delivery's mode asks."""
    stamp = now - STALE_BY if delivery.mode == "stale_timestamp" else now
    secret = WRONG_SECRET if delivery.mode == "bad_signature" else delivery.secret
    signature = Webhook(secret).sign(delivery.event_id, stamp, delivery.payload)
    return {
        "content-type": "application/json",
        "user-agent": "rivya-simulator",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }


class WebhookSender:
    """A scheduled queue of deliveries served by a few worker threads."""

    def __init__(self, state: State, workers: int = 4) -> None:
        self._state = state
        self._workers = workers
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._sequence = itertools.count()
        self._busy = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping = False
        for number in range(self._workers):
            thread = threading.Thread(
                target=self._run, name=f"rivya-sim-webhook-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = TIMEOUT_SECONDS + 1) -> None:
        """Stop the workers; deliveries still queued are dropped."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def submit(self, delivery: Delivery, delay: float = 0.0) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._sequence), delivery))
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and not self._busy, timeout)

    def _run(self) -> None:
        client: httpx.Client | None = None  # made on first use: building one takes ~30 ms
        while (delivery := self._next()) is not None:
            try:
                client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
                self._deliver(client, delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
        if client is not None:
            client.close()

    def _next(self) -> Delivery | None:
        """The next due delivery, waiting for it; None once stopping."""
        with self._cond:
            while not self._stopping:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    self._busy += 1
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(wait)
            return None

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> None:
        headers = signed_headers(delivery, datetime.now(tz=UTC))
        copies = 2 if delivery.mode == "replay" else 1
        delivered = all(self._post(client, delivery, headers) for _ in range(copies))
        if not delivered and delivery.attempt <= len(RETRY_DELAYS):
            retry = replace(delivery, attempt=delivery.attempt + 1)
            self.submit(retry, RETRY_DELAYS[delivery.attempt - 1])

    def _post(self, client: httpx.Client, delivery: Delivery, headers: dict[str, str]) -> bool:
        """Send once and record the attempt; True on a 2xx answer."""
        status: int | None = None
        error: str | None = None
        try:
            status = client.post(
                delivery.url, content=delivery.payload, headers=headers
            ).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._state.add_webhook(
            WebhookRecord(
                event_id=delivery.event_id,
                type=delivery.event_type,
                task_id=delivery.task_id,
                attempt=delivery.attempt,
                mode=delivery.mode,
                url=delivery.url,
                sent_at=time.time(),
                status_code=status,
                error=error,
            )
        )
        return status is not None and 200 <= status < 300
