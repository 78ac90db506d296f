"""Faults 36-37: Rivya hangs (accepts connections, never answers) or answers garbage. Every page
answers without calling Rivya (DESIGN.md rule 10), the banner and the cards say what is going on,
and the work submitted during the outage is sent once Rivya is back, with no one touching it."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from generations import catalog, health
from generations.models import Generation, Status
from generations.rivya import RivyaClient
from tests.rows import generation
from tests.support import (
    RESERVED_AND_CHARGED,
    finished,
    ledger_entries_of,
    page_text,
    remote_tasks_for,
    rivya_failing_since,
    wait_for,
)

BANNER = "has not been working since"
GARBAGE = b"\x00\xff<html>Bad gateway</html> not HTTP at all\r\n\r\n"


class Peer:
    """A TCP server on loopback that accepts every connection and then never answers, or
    answers ``reply`` (garbage) and closes. It counts the connections it accepted."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted += 1
            if self.reply is None:
                self._held.append(conn)  # kept open, never answered
            else:
                conn.sendall(self.reply)
                conn.close()

    def close(self) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()


@pytest.fixture(params=[None, GARBAGE], ids=["hangs", "garbage"])
def broken_rivya(request, settings) -> Iterator[Peer]:
    peer = Peer(request.param)
    settings.RIVYA_BASE_URL = peer.url
    yield peer
    peer.close()


@pytest.fixture
def charlie_client(charlie) -> Client:
    client = Client()
    client.force_login(charlie)
    return client


def every_page(alice, alice_client, charlie_client, form_data) -> dict[str, int]:
    """Every page and htmx partial, GET and POST: name -> status code."""
    htmx = {"HX-Request": "true"}
    waiting = generation(alice, Status.QUEUED, submit_attempts=2, next_check_at=timezone.now())
    done = generation(alice, prompt="done")
    deletable = generation(alice, prompt="to delete")
    answers = {
        "home": alice_client.get("/"),
        "home, mine": alice_client.get("/?who=mine"),
        "history partial": alice_client.get("/?who=mine", headers={**htmx, "HX-Target": "history"}),
        "cards": alice_client.get(f"/generations/cards/?id={waiting.pk}&id={done.pk}"),
        "cards, none": alice_client.get("/generations/cards/"),
        "detail": alice_client.get(f"/generations/{done.pk}/"),
        "create": alice_client.post("/generations/", form_data()),
        "create, htmx": alice_client.post("/generations/", form_data(), headers=htmx),
        "create, invalid": alice_client.post("/generations/", form_data(seed="-1")),
        "create, invalid htmx": alice_client.post(
            "/generations/", form_data(seed="-1"), headers=htmx
        ),
        "delete, htmx": alice_client.post(f"/generations/{deletable.pk}/delete/", headers=htmx),
        "delete, unfinished": alice_client.post(f"/generations/{waiting.pk}/delete/"),
        "usage": charlie_client.get("/usage/"),
        "sign in": Client().get("/accounts/login/"),
        "admin": charlie_client.get("/admin/"),
    }
    return {name: response.status_code for name, response in answers.items()}


EXPECTED = {"create": 302, "create, invalid": 400, "delete, unfinished": 302}


def rivya_as_workers_left_it(state: str) -> None:
    """What is kept: nothing; old copies of the list and balance; old copies and an outage."""
    if state == "nothing kept":
        return
    long_ago = timezone.now() - timedelta(hours=2)
    health.keep(health.MODELS, [asdict(m) for m in catalog.DOCUMENTED_MODELS], at=long_ago)
    health.keep(health.BALANCE, {"credits": 5}, at=long_ago)
    if state == "rivya down":
        rivya_failing_since(7200, code="timeout", message="Rivya did not answer in time.")


@pytest.mark.parametrize("state", ["nothing kept", "old copies", "rivya down"])
@pytest.mark.fault(36)
@pytest.mark.fault(37)
@pytest.mark.django_db
def test_every_page_answers_without_calling_rivya(
    broken_rivya, state, alice, alice_client, charlie_client, form_data
):
    rivya_as_workers_left_it(state)
    with (
        mock.patch("generations.tasks.submit_generation.delay"),
        mock.patch.object(
            RivyaClient, "_request", side_effect=AssertionError("called Rivya")
        ) as call,
    ):
        statuses = every_page(alice, alice_client, charlie_client, form_data)
    assert statuses == {name: EXPECTED.get(name, 200) for name in statuses}
    call.assert_not_called()
    assert broken_rivya.accepted == 0  # nothing reached Rivya by any other way either


@pytest.mark.fault(36)
@pytest.mark.django_db
def test_the_pages_say_rivya_is_down_and_the_card_waits(alice, alice_client):
    row = generation(alice, Status.QUEUED, submit_attempts=3)
    Generation.objects.filter(pk=row.pk).update(
        next_check_at=timezone.now() + timedelta(seconds=20)
    )
    rivya_failing_since(300)
    home = page_text(alice_client.get("/"))
    cards = page_text(alice_client.get(f"/generations/cards/?id={row.pk}"))
    for body in (home, cards):
        assert BANNER in body
        assert "Your images are saved and will be sent as soon as it is back." in body
        assert re.search(
            r"attempt 3 did not go through, and the next one is in <span[^>]*>1\d s<", body
        )


# -- The whole path: a real worker with beat, the simulator hanging or answering garbage ---------


def cards_page(client: Client, generation_id: int) -> str:
    return client.get(f"/generations/cards/?id={generation_id}").content.decode()


def wait_or_show(what: str, predicate, workers, generation_id: int, timeout: float):
    """``wait_for`` while doing what a process supervisor does (the filesystem broker can still
    kill a worker with a half-written message, issue 9), and on failure show the row and the
    worker's last words."""

    def supervised():
        workers.restart_exited()
        return predicate()

    try:
        return wait_for(supervised, timeout=timeout)
    except AssertionError:
        row = Generation.objects.filter(pk=generation_id).values().first()
        raise AssertionError(f"{what}: {row}\n{workers.started[-1].output()[-4000:]}") from None


@pytest.mark.slow
@pytest.mark.parametrize(
    "break_rivya",
    [
        pytest.param(lambda sim: sim.faults.timeout(count=-1, seconds=3), id="hangs"),
        pytest.param(lambda sim: sim.faults.non_json(count=-1), id="garbage"),
    ],
)
@pytest.mark.fault(36)
@pytest.mark.fault(37)
def test_work_sent_during_an_outage_succeeds_when_rivya_is_back_by_itself(
    sim, workers, alice, form_data, settings, break_rivya
):
    """1. A worker with beat starts while Rivya works (it reads the list and the balance).
    2. Rivya breaks; a member submits: the page answers, the row waits.
    3. The banner appears (no success for RIVYA_DOWN_AFTER_SECONDS) and the card says it waits.
    4. Rivya comes back; nobody touches anything: the image is made, charged once, and the
       banner goes from the card refresh."""
    settings.RIVYA_DOWN_AFTER_SECONDS = 2  # the web side (this process) reads with it too
    workers.start(
        beat=True,
        RIVYA_READ_TIMEOUT="1",
        RIVYA_TOTAL_TIMEOUT="1",
        RIVYA_DOWN_AFTER_SECONDS="2",
        RIVYA_REFRESH_EVERY_SECONDS="5",
        RECONCILE_EVERY_SECONDS="2",
    )
    wait_for(lambda: health.balance() is not None, timeout=30)  # the worker's start refresh
    break_rivya(sim)
    client = Client()
    client.force_login(alice)
    assert client.post("/generations/", form_data()).status_code == 302
    row = Generation.objects.get()

    def seen(text: str) -> bool:
        return text in cards_page(client, row.pk)

    wait_or_show("no banner", lambda: seen(BANNER), workers, row.pk, 60)
    wait_or_show("no waiting card", lambda: seen("Waiting for Rivya"), workers, row.pk, 60)
    assert not Generation.objects.get(pk=row.pk).is_finished
    assert BANNER in client.get("/").content.decode()

    sim.faults.reset()
    done = wait_or_show("not finished", lambda: finished(row.pk), workers, row.pk, 90)
    assert done.status == Status.SUCCEEDED, done.error_message
    assert len(remote_tasks_for(sim, done)) == 1
    assert ledger_entries_of(done) == RESERVED_AND_CHARGED
    wait_or_show("banner stays", lambda: not seen(BANNER), workers, row.pk, 30)
