"""The Celery tasks' own rules: which task the reconciler sends for which row, and that sending
catches only the broker being out of reach (faults 11 and 12 take a real broker away)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import kombu.exceptions
import pytest
from django.utils import timezone

from generations import lifecycle, tasks
from generations.models import Generation, Status
from tests.support import new_generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The messages the tasks would send, recorded instead of sent to a broker."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    for task in (
        tasks.submit_generation,
        tasks.poll_generation,
        tasks.expire_generation,
        tasks.check_late_result,
    ):
        name = task.name.rsplit(".", 1)[-1]
        monkeypatch.setattr(task, "delay", lambda *a, name=name, **kw: seen.append((name, a)))
    return seen


def overdue(generation: Generation, **fields: Any) -> None:
    past = timezone.now() - lifecycle.RECONCILE_GRACE - timedelta(seconds=1)
    Generation.objects.filter(pk=generation.pk).update(next_check_at=past, **fields)


def test_the_reconciler_sends_each_overdue_row_to_its_step(sim, alice, sent):
    queued = new_generation(alice, prompt="Queued")
    processing = new_generation(alice, prompt="Processing")
    gave_up = new_generation(alice, prompt="Gave up")
    overdue(queued)
    overdue(processing, status=Status.PROCESSING, remote_task_id="task_1")
    overdue(gave_up, status=Status.FAILED, error_code="timed_out", remote_task_id="task_2")

    assert tasks.reconcile() == 3
    assert sorted(sent) == sorted(
        [
            ("submit_generation", (queued.pk,)),
            ("poll_generation", (processing.pk,)),
            ("check_late_result", (gave_up.pk,)),
        ]
    )


def test_the_reconciler_ends_a_row_past_its_time_budget(sim, alice, sent, settings):
    generation = new_generation(alice)
    settings.GENERATION_TIME_BUDGET_SECONDS = 0
    assert tasks.reconcile() == 1
    assert sent == [("expire_generation", (generation.pk,))]


def test_sending_raises_what_is_not_the_broker_being_down():
    with pytest.raises(kombu.exceptions.EncodeError):  # a bug, not an outage: never swallowed
        tasks.send(tasks.poll_generation, 1, force=object())
