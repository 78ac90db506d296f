"""Celery tasks: each takes an id, calls one lifecycle step, and enqueues what it says is next.

Tasks are retried for database trouble (the step is safe to rerun: every change is claimed), and
a task that keeps failing for one generation ends it as failed instead of retrying forever.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from generations import catalog, health, lifecycle

logger = logging.getLogger(__name__)

RETRY_FOR = (OperationalError, InterfaceError, DatabaseError)
TASK_OPTIONS: dict[str, Any] = {
    "autoretry_for": RETRY_FOR,
    "retry_backoff": 2,
    "retry_backoff_max": settings.TASK_RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": settings.TASK_MAX_RETRIES,
    "acks_late": True,
}


class GenerationTask(Task):  # type: ignore[type-arg]
    """After its last retry, a task's generation is failed with a clear message."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if args:
            try:
                lifecycle.fail_unexpectedly(int(args[0]))
            except DatabaseError:
                logger.exception("Could not mark generation %s failed", args[0])


def schedule(step: lifecycle.Next | None, generation_id: int) -> None:
    if step is None:
        return
    task = submit_generation if step.step == "submit" else poll_generation
    try:
        task.apply_async((generation_id,), countdown=step.delay)
    except Exception:  # the broker is down: the row's next check is saved; the reconciler has it
        logger.warning("Could not schedule %s of generation %s", step.step, generation_id)


def enqueue_submit(generation_id: int) -> None:
    """Ring the doorbell for a new generation. If the broker is down the row is safe in the
    database, and the reconciler sends it once the broker is back."""
    try:
        submit_generation.delay(generation_id)
    except Exception:  # any broker or connection error: the reconciler has it covered
        logger.warning("Could not enqueue generation %s; the reconciler will", generation_id)


def is_retry(task: Task) -> bool:  # type: ignore[type-arg]
    """A rerun after a database error: the lease on the row was set by this task's first run,
    so the rerun may take it back instead of waiting for it to run out."""
    return bool(task.request.retries)


@shared_task(base=GenerationTask, bind=True, **TASK_OPTIONS)
def submit_generation(self: Task, generation_id: int) -> None:  # type: ignore[type-arg]
    schedule(lifecycle.submit(generation_id, reclaim=is_retry(self)), generation_id)


@shared_task(base=GenerationTask, bind=True, **TASK_OPTIONS)
def poll_generation(self: Task, generation_id: int, force: bool = False) -> None:  # type: ignore[type-arg]
    schedule(lifecycle.poll(generation_id, force=force, reclaim=is_retry(self)), generation_id)


@shared_task(base=GenerationTask, **TASK_OPTIONS)
def expire_generation(generation_id: int) -> None:
    schedule(lifecycle.expire(generation_id), generation_id)


@shared_task(acks_late=True)
def reconcile() -> int:
    """Ring the doorbell again for every unfinished generation whose next check is overdue."""
    rows = lifecycle.overdue_generations()
    for generation_id, status, past_budget in rows:
        if past_budget:
            expire_generation.delay(generation_id)
        elif status in ("queued", "sending"):
            submit_generation.delay(generation_id)
        else:
            poll_generation.delay(generation_id)
    if rows:
        logger.info("Reconciler re-enqueued %d generations", len(rows))
    return len(rows)


# -- What pages show of Rivya, refreshed by beat (and once as a worker starts) ----------------


@shared_task(acks_late=True)
def refresh_models() -> bool:
    return catalog.refresh_models()


@shared_task(acks_late=True)
def refresh_balance() -> bool:
    return health.refresh_balance()


@worker_ready.connect
def refresh_rivya_state(**kwargs: Any) -> None:
    """A starting worker asks for the model list and the balance at once, not at beat's next
    turn, so a fresh install shows them within seconds."""
    try:
        refresh_models.delay()
        refresh_balance.delay()
    except Exception:  # any broker error: beat asks again at its next turn
        logger.warning("Could not enqueue the Rivya refresh at worker start")
