"""FAULTS.md 26: a busy team never makes the embedded broker hand a worker a half-written
message. Real publishers in threads, a real worker process reading the same folder."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from generations import tasks
from generations.models import UNFINISHED, Generation, Status
from tests.conftest import wait_for


def publish_in_bursts(bursts: int, size: int, drained) -> None:
    """``bursts`` times, ``size`` threads ring the doorbell at once; the next burst waits until
    the worker has read the last one, so it is polling the folder when each file appears (a
    backlog would hide the race: the reader takes the oldest file first)."""

    def publish(start: threading.Barrier) -> None:
        start.wait()
        tasks.reconcile.delay()

    for _ in range(bursts):
        start = threading.Barrier(size)
        burst = [threading.Thread(target=publish, args=(start,)) for _ in range(size)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join(30)
        wait_for(drained, timeout=30, every=0.02)


@pytest.mark.fault(26)
@pytest.mark.slow
def test_it_keeps_the_worker_alive_while_threads_publish_in_bursts(workers, broker):
    worker = workers.start(concurrency=8)

    def drained() -> bool:
        assert worker.process is not None
        assert worker.process.poll() is None, worker.output()[-3000:]
        return not any((broker.folder / "out").glob("*.msg"))

    publish_in_bursts(bursts=100, size=8, drained=drained)
    wait_for(lambda: worker.output().count("succeeded in") == 800, timeout=60)
    assert "Unrecoverable error" not in worker.output()


def post_in_bursts(user, form_data, bursts: int, size: int) -> list[int]:
    """``bursts`` times, ``size`` browsers POST the form at the same moment (each its own
    signed-in client, kept from burst to burst)."""
    clients = [Client() for _ in range(size)]
    for client in clients:
        client.force_login(user)
    answers: list[int] = []

    def post(client: Client, start: threading.Barrier) -> None:
        start.wait()
        answers.append(client.post("/generations/", form_data(seed="7")).status_code)
        connection.close()

    for _ in range(bursts):
        start = threading.Barrier(size)
        burst = [threading.Thread(target=post, args=(client, start)) for client in clients]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join(60)
    return answers


@pytest.mark.fault(26)
@pytest.mark.slow
def test_it_makes_every_generation_of_500_submits_sent_in_bursts(sim, workers, alice, form_data):
    worker = workers.start(concurrency=8)
    answers = post_in_bursts(alice, form_data, bursts=50, size=10)
    assert answers == [302] * 500

    def all_finished() -> bool:
        assert worker.process is not None
        assert worker.process.poll() is None, worker.output()[-3000:]
        return not Generation.objects.filter(status__in=UNFINISHED).exists()

    wait_for(all_finished, timeout=300, every=0.5)
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 500
    assert sim.state.creates_total == 500
    assert "Unrecoverable error" not in worker.output()
