"""Contract-test helpers: a client on a fake transport, and the lifecycle driven by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from generations.models import Generation, LedgerEntry
from generations.rivya import RivyaClient
from tests.conftest import TEST_API_KEY
from tests.support import make_due, new_generation, run_until_finished

__all__ = ["make_due", "new_generation", "run_until_finished"]

Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler, **options: Any) -> RivyaClient:
    """The app's client class on an ``httpx.MockTransport``: for answers the simulator
    cannot give (a missing field, an unknown code, a dripping body)."""
    return RivyaClient(
        "https://rivya.test", TEST_API_KEY, transport=httpx.MockTransport(handler), **options
    )


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    """A handler that gives every request the same answer (``body`` as JSON unless bytes)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return handle


def ledger(generation: Generation) -> list[tuple[str, int]]:
    rows = LedgerEntry.objects.filter(generation=generation).values_list("kind", "credits")
    return sorted(rows)
