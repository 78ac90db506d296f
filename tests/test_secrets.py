"""The API key stays a secret: after a whole generation with every logger at DEBUG (httpx and
httpcore included), it is in no log record, no page, no task argument and no stored row."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from celery.app.task import Task
from django.forms.models import model_to_dict
from django.test import Client

from generations.models import Generation, LedgerEntry, Status, WebhookEvent
from tests.support import TEST_API_KEY, finished, wait_for

pytestmark = [pytest.mark.slow]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "generations", "celery", "django", "rivya_sim"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def task_calls() -> Iterator[list[tuple[Any, ...]]]:
    """Every task sent, with its arguments (``delay`` goes through ``apply_async``)."""
    calls: list[tuple[Any, ...]] = []
    real = Task.apply_async

    def recording(self: Any, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        calls.append((self.name, args, kwargs, options))
        return real(self, args, kwargs, **options)

    with mock.patch.object(Task, "apply_async", recording):
        yield calls


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    return "\n".join(parts)


def pages(generation_id: int, alice_client: Client, charlie: Any) -> str:
    staff = Client()
    staff.force_login(charlie)
    charlie.is_superuser = True
    charlie.save()
    urls = ["/", f"/generations/{generation_id}/", f"/generations/cards/?id={generation_id}"]
    seen = [alice_client.get(url) for url in urls]
    seen += [staff.get(url) for url in ("/usage/", "/admin/generations/generation/")]
    seen.append(staff.get(f"/admin/generations/generation/{generation_id}/change/"))
    assert all(r.status_code == 200 for r in seen), [(r.status_code, r.request) for r in seen]
    return "\n".join(r.content.decode() for r in seen)


def rows() -> str:
    generations = [model_to_dict(g) for g in Generation.objects.all()]
    ledger = list(LedgerEntry.objects.values())
    events = list(WebhookEvent.objects.values())
    return repr((generations, ledger, events))


def generate(alice_client: Client, form_data: Any, capture: Any, **fields: str) -> Generation:
    with capture(execute=True):
        response = alice_client.post("/generations/", form_data(**fields))
    assert response.status_code == 302
    generation_id = Generation.objects.get().pk
    result: Generation = wait_for(lambda: finished(generation_id), timeout=60)
    return result


def test_it_never_shows_the_api_key_after_a_whole_generation(
    sim,
    celery_worker,
    alice_client,
    charlie,
    form_data,
    debug_logs,
    task_calls,
    django_capture_on_commit_callbacks,
):
    generation = generate(alice_client, form_data, django_capture_on_commit_callbacks)
    assert generation.status == Status.SUCCEEDED, generation.error_message
    assert any(r.name.startswith("httpcore") for r in debug_logs.records)  # DEBUG was on
    assert task_calls  # the tasks went through the broker
    assert TEST_API_KEY not in everything_logged(debug_logs)
    assert TEST_API_KEY not in repr(task_calls)
    assert TEST_API_KEY not in pages(generation.pk, alice_client, charlie)
    assert TEST_API_KEY not in rows()


def test_it_never_shows_a_revoked_api_key_either(
    sim,
    celery_worker,
    alice_client,
    charlie,
    form_data,
    debug_logs,
    task_calls,
    django_capture_on_commit_callbacks,
):
    sim.faults.revoked_keys = {TEST_API_KEY}
    generation = generate(alice_client, form_data, django_capture_on_commit_callbacks)
    assert generation.status == Status.FAILED
    assert generation.error_code == "api_key_revoked"
    assert TEST_API_KEY not in everything_logged(debug_logs)
    assert TEST_API_KEY not in repr(task_calls)
    assert TEST_API_KEY not in pages(generation.pk, alice_client, charlie)
    assert TEST_API_KEY not in rows()
