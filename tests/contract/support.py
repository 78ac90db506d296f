"""Contract-test helpers: a client on a fake transport, and the lifecycle driven by hand."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from django.utils import timezone

from generations import catalog, lifecycle
from generations.models import Generation, LedgerEntry
from generations.rivya import RivyaClient
from tests.conftest import TEST_API_KEY, wait_for

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


def new_generation(user, prompt: str = "A quiet harbour at night", **fields) -> Generation:
    model = catalog.find_model(fields.pop("model", "google-imagen4"))
    assert model is not None
    generation, created = lifecycle.create(
        user,
        form_token=uuid.uuid4(),
        model=model,
        prompt=prompt,
        aspect_ratio=fields.pop("aspect_ratio", "1:1"),
        **fields,
    )
    assert created
    return generation


def make_due(generation: Generation) -> None:
    Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())


def run_until_finished(
    generation: Generation,
    timeout: float = 15.0,
    steps: list[lifecycle.Next] | None = None,
    first: lifecycle.Next | None = None,
) -> Generation:
    """Drive submit and poll as the tasks would, without waiting for countdowns, starting with a
    submit (or with ``first``, a step a test already got). Every step the lifecycle asked for
    is appended to ``steps``."""
    seen = steps if steps is not None else []
    step = first or lifecycle.submit(generation.pk)

    def advance() -> bool:
        nonlocal step
        if step is None:
            return Generation.objects.get(pk=generation.pk).is_finished
        seen.append(step)
        make_due(generation)
        step = (lifecycle.submit if step.step == "submit" else lifecycle.poll)(generation.pk)
        return False

    wait_for(advance, timeout=timeout, every=0.05)
    return Generation.objects.get(pk=generation.pk)


def ledger(generation: Generation) -> list[tuple[str, int]]:
    rows = LedgerEntry.objects.filter(generation=generation).values_list("kind", "credits")
    return sorted(rows)
