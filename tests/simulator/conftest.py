"""Fixtures for the simulator's own tests: a fresh simulator, a client, a webhook receiver.

Nothing here touches Django; these tests talk to ``rivya_sim`` over real HTTP only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from rivya_sim import Simulator
from tests.simulator.support import API_KEY, Receiver, plain_client


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(api_key=API_KEY, delay=0.2).start() as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with plain_client(sim.base_url, headers=headers) as http:
        yield http


@pytest.fixture
def create(client: httpx.Client) -> Callable[..., httpx.Response]:
    """POST a generation: ``create(prompt=..., params=..., key=...)``."""

    def post(key: str | None = None, **fields: Any) -> httpx.Response:
        body = {"model": "google-imagen4", "prompt": "A lighthouse at dawn", **fields}
        headers = {"Idempotency-Key": key} if key else {}
        return client.post("/api/v1/generations", json=body, headers=headers)

    return post


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    record = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(record.answer())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/rivya"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield record
    server.shutdown()
    server.server_close()
    thread.join()
