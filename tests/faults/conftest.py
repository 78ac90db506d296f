"""Fixtures for the fault tests: the tier's broker, a private redis-server, real worker
processes, and hooks into the simulator. What they are made of is in ``processes.py``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagen_site import broker as embedded_broker
from imagen_site.celery import app as celery_app
from rivya_sim.engine import Engine
from tests.faults.processes import (
    SHARED_BROKER_URL,
    Broker,
    CreateGate,
    RedisServer,
    Workers,
    database_env,
    media_env,
    publish_to,
)
from tests.support import TEST_API_KEY


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """The tier's broker: a private filesystem folder, or the shared server named by the env."""
    saved = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    assert saved[0], "the test process must have a broker to go back to"
    chosen = Broker(SHARED_BROKER_URL, tmp_path / "worker-data")
    chosen.data_dir.mkdir()
    chosen.use()
    yield chosen
    publish_to(*saved)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def workers(
    transactional_db: None, sim: Any, broker: Broker, tmp_path: Path, settings: Any
) -> Iterator[Workers]:
    """Start real worker processes with ``workers.start()``; all are stopped after the test."""
    env = {
        **os.environ,
        **database_env(),
        "DJANGO_SETTINGS_MODULE": "imagen_site.settings",
        "RIVYA_BASE_URL": sim.base_url,
        "RIVYA_API_KEY": TEST_API_KEY,
        "RIVYA_WEBHOOK_SECRET": "",
        **media_env(),
        "IMAGEN_DATA_DIR": str(broker.data_dir),
        "CELERY_BROKER_URL": broker.url or embedded_broker.URL,
        "CELERY_QUEUE": str(celery_app.conf.task_default_queue),
        "PYTHONUNBUFFERED": "1",
    }
    pool = Workers(env, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def create_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[CreateGate]:
    gate = CreateGate()
    original = Engine.create

    def create_then_hold(self: Engine, *args: Any, **kwargs: Any) -> Any:
        answer = original(self, *args, **kwargs)
        if gate.holds_left > 0:
            gate.holds_left -= 1
            gate.created.set()
            gate.released.wait(30)
        return answer

    monkeypatch.setattr(Engine, "create", create_then_hold)
    yield gate
    gate.release()


@pytest.fixture
def download_counter(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many result downloads the simulator has answered (counted on its side)."""
    import rivya_sim.results
    import rivya_sim.server

    calls: list[str] = []
    original = rivya_sim.results.handle_result

    def counting(engine: Any, request: Any) -> Any:
        calls.append(request.path)
        return original(engine, request)

    monkeypatch.setattr(rivya_sim.server, "handle_result", counting)
    return lambda: len(calls)
