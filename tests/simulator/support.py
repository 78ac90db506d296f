"""Helpers for the simulator's own tests, which talk to ``rivya_sim`` over HTTP only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import wait_for

API_KEY = "rvya_sk_test_simulator"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def plain_client(base_url: str = "", **options: Any) -> httpx.Client:
    """An HTTP client without TLS set-up (building the default context costs ~30 ms)."""
    # Loopback plain HTTP only, so no certificate is ever involved.
    return httpx.Client(base_url=base_url, verify=False, timeout=5.0, **options)  # noqa: S501


def get(url: str, **options: Any) -> httpx.Response:
    with plain_client() as http:
        return http.get(url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    with plain_client() as http:
        return http.post(url, **options)


def wait_until_finished(client: httpx.Client, task_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll the task until it is terminal and return it."""

    def terminal() -> dict[str, Any] | None:
        task: dict[str, Any] = client.get(f"/api/v1/generations/{task_id}").json()
        return task if task["status"] in ("succeeded", "failed") else None

    result: dict[str, Any] = wait_for(terminal, timeout=timeout)
    return result


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets and answers the statuses queued."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def answer(self) -> int:
        return self.answers.pop(0) if self.answers else 204
