"""Helpers the test files share: a generation saved as the create view saves it, and the
lifecycle driven step by step as the Celery tasks would drive it, without their countdowns."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from generations import catalog, health, lifecycle, tasks
from generations.models import Generation
from tests.conftest import wait_for


def new_generation(
    user: Any, prompt: str = "A quiet harbour at night", **fields: Any
) -> Generation:
    """A saved, queued generation with its credits reserved; nothing is sent yet."""
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


def make_due(generation: Generation | int) -> None:
    """Bring the next check forward to now, as if its countdown had run out."""
    pk = generation if isinstance(generation, int) else generation.pk
    Generation.objects.filter(pk=pk).update(next_check_at=timezone.now())


def run_until_finished(
    generation: Generation | int,
    timeout: float = 15.0,
    steps: list[lifecycle.Next] | None = None,
    first: lifecycle.Next | None = None,
) -> Generation:
    """Submit (or start from ``first``, a step a test already got) and poll until finished.
    Every step the lifecycle asked for is appended to ``steps``."""
    pk = generation if isinstance(generation, int) else generation.pk
    seen = steps if steps is not None else []
    step = first or lifecycle.submit(pk)

    def advance() -> bool:
        nonlocal step
        if step is None:
            return Generation.objects.get(pk=pk).is_finished
        seen.append(step)
        make_due(pk)
        step = (lifecycle.submit if step.step == "submit" else lifecycle.poll)(pk)
        return False

    wait_for(advance, timeout=timeout, every=0.05)
    return Generation.objects.get(pk=pk)


def beat_refresh() -> None:
    """What beat does every minute: ask Rivya for the model list and the balance, and keep them
    (a page only ever reads what was kept)."""
    tasks.refresh_models()
    tasks.refresh_balance()


def rivya_failing_since(seconds: float, *, last_success: bool = True, **failure: str) -> None:
    """Notes as the client leaves them when Rivya last worked ``seconds`` ago and has failed
    since (the last failure a second ago): ``failure`` gives its code, message, request_id."""
    now = timezone.now()
    if last_success:
        health.keep(health.LAST_SUCCESS, {}, at=now - timedelta(seconds=seconds))
    began = (now - timedelta(seconds=seconds - 1)).isoformat()
    note = {"code": "timeout", "message": "", "request_id": "", **failure, "since": began}
    health.keep(health.LAST_FAILURE, note, at=now - timedelta(seconds=1))


def kept_balance() -> health.Kept:
    found = health.balance()
    assert found is not None, "no balance is kept"
    return found


def last_failure() -> health.Failure:
    found = health.health().last_failure
    assert found is not None, "no failure is noted"
    return found
