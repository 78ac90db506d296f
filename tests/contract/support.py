"""The app's Rivya client on a fake transport, for answers the simulator cannot give."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from generations.rivya import RivyaClient
from tests.support import TEST_API_KEY

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
