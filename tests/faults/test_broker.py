"""Fault 26 of docs/reliability.md: a busy team never makes the embedded broker hand a worker a
half-written message. Real publishers in threads, a real worker process reading the same folder.

Kombu's own ``filesystem://`` failed the first test within seconds (the worker died with
"Unrecoverable error: JSONDecodeError"); ``imagen_site/broker.py`` is the fix."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from django.db import connection
from django.test import Client

from generations import tasks
from generations.models import UNFINISHED, Generation, Status
from imagen_site import broker as embedded_broker
from tests.faults.processes import Broker
from tests.support import wait_for

T = TypeVar("T")


def at_once(size: int, action: Callable[[int], T]) -> list[T]:
    """``action(0)`` … ``action(size - 1)`` in ``size`` threads released together; an error in
    any of them is raised here."""
    start = threading.Barrier(size)

    def run(n: int) -> T:
        start.wait()
        return action(n)

    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(run, range(size)))


def publish_in_bursts(bursts: int, size: int, drained: Callable[[], bool]) -> None:
    """``bursts`` times, ``size`` threads ring the doorbell at once; the next burst waits until
    the worker has read the last one, so it is polling the folder when each file appears (a
    backlog would hide the race: the reader takes the oldest file first)."""
    for _ in range(bursts):
        at_once(size, lambda n: tasks.reconcile.delay())
        wait_for(drained, timeout=30, every=0.02)


@pytest.fixture
def embedded(broker: Broker) -> Broker:
    """This test's own embedded broker folder, on every tier."""
    Broker("", broker.data_dir).use()
    return broker


@pytest.mark.fault(26)
@pytest.mark.slow
def test_it_keeps_the_worker_alive_while_threads_publish_in_bursts(workers, embedded):
    worker = workers.start(concurrency=8, CELERY_BROKER_URL=embedded_broker.URL)

    def drained() -> bool:
        assert worker.process is not None
        assert worker.process.poll() is None, worker.output()[-3000:]
        return not any((embedded.folder / "out").glob("*.msg"))

    publish_in_bursts(bursts=100, size=8, drained=drained)
    # Counted by name: a starting worker also runs its own refresh of Rivya's model list.
    reconciled = "Task generations.tasks.reconcile["
    wait_for(lambda: worker.output().count(reconciled) >= 2 * 800, timeout=60)
    assert worker.output().count(reconciled) == 2 * 800  # received and succeeded, each once
    assert "Unrecoverable error" not in worker.output()


def post_in_bursts(user, form_data, bursts: int, size: int) -> list[int]:
    """``bursts`` times, ``size`` browsers POST the form at the same moment (each its own
    signed-in client, kept from burst to burst)."""
    clients = [Client() for _ in range(size)]
    for client in clients:
        client.force_login(user)

    def post(n: int) -> int:
        answer = clients[n].post("/generations/", form_data(seed="7")).status_code
        connection.close()
        return answer

    return [answer for _ in range(bursts) for answer in at_once(size, post)]


@pytest.mark.fault(26)
@pytest.mark.slow
def test_it_makes_every_generation_of_500_submits_sent_in_bursts(
    sim, workers, embedded, alice, form_data
):
    worker = workers.start(concurrency=8, CELERY_BROKER_URL=embedded_broker.URL)
    answers = post_in_bursts(alice, form_data, bursts=50, size=10)
    assert answers == [302] * 500
    assert Generation.objects.count() == 500

    def all_finished() -> bool:
        assert worker.process is not None
        assert worker.process.poll() is None, worker.output()[-3000:]
        return not Generation.objects.filter(status__in=UNFINISHED).exists()

    wait_for(all_finished, timeout=300, every=0.5)
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 500
    assert sim.state.creates_total == 500
    assert "Unrecoverable error" not in worker.output()
