"""Celery tasks: each takes an id, calls one lifecycle step, and enqueues what it says is next.

Tasks are retried for database trouble a retry can fix (a lost connection, a lock, a
serialization failure: the step is safe to rerun, every change is claimed), and a task that keeps
failing for one generation ends it as failed instead of retrying forever. The broker is only a
doorbell: when it cannot be reached, :func:`send` logs and the reconciler sends it later.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from generations import alerts, catalog, health, lifecycle
from generations.models import Status

logger = logging.getLogger(__name__)

# What a rerun can fix: a connection lost or refused, a lock not granted in time (SQLite's
# "database is locked" is an OperationalError), a serialization failure or deadlock (PostgreSQL's
# are OperationalErrors). Not an IntegrityError, a ProgrammingError or a DataError: the same
# statement fails the same way again.
RETRY_FOR = (OperationalError, InterfaceError)
# What sending a message raises when the broker cannot be reached: Celery turns the transport's
# connection and channel errors into kombu's OperationalError (Redis, RabbitMQ, a write that
# fails in the filesystem transport); the filesystem transport's folder errors (a folder gone)
# come through as OSError, which also covers the socket errors of any transport.
BROKER_DOWN = (kombu.exceptions.OperationalError, OSError)
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


def send(
    task: Task,  # type: ignore[type-arg]
    generation_id: int,
    *,
    countdown: float | None = None,
    **kwargs: Any,
) -> bool:
    """Ring the doorbell: enqueue ``task`` for a generation (after ``countdown`` s). When the
    broker cannot be reached, log it and return False: the row and its next check are saved,
    and the reconciler sends it once the broker is back. Any other error is raised."""
    try:
        if countdown is None:
            task.delay(generation_id, **kwargs)
        else:
            task.apply_async((generation_id,), kwargs, countdown=countdown)
    except BROKER_DOWN as exc:
        logger.warning(
            "Could not enqueue generation %s (%s): %s; the reconciler will send it",
            generation_id,
            task.name,
            exc,
        )
        return False
    return True


def schedule(step: lifecycle.Next | None, generation_id: int) -> None:
    if step is not None:
        task = submit_generation if step.step == "submit" else poll_generation
        send(task, generation_id, countdown=step.delay)


def enqueue_submit(generation_id: int) -> None:
    """Ring the doorbell for a new generation, and for the alerts its reservation may have made
    due. If the broker is down the row is safe in the database, and the reconciler sends it
    once the broker is back (and beat checks the alerts)."""
    send(submit_generation, generation_id)
    ring(send_alerts)


def ring(task: Task) -> bool:  # type: ignore[type-arg]
    """Enqueue a task that takes no arguments; False (logged) if the broker cannot be reached:
    beat runs it again at its next turn."""
    try:
        task.delay()
    except BROKER_DOWN as exc:
        logger.warning("Could not enqueue %s: %s; beat runs it again", task.name, exc)
        return False
    return True


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


@shared_task(base=GenerationTask, **TASK_OPTIONS)
def check_late_result(generation_id: int) -> None:
    schedule(lifecycle.look_for_late_result(generation_id), generation_id)


def _task_for(status: str, past_budget: bool) -> Any:  # the tasks are typed Any by Celery
    if past_budget:
        return expire_generation
    if status == Status.FAILED:
        return check_late_result
    if status in (Status.QUEUED, Status.SENDING):
        return submit_generation
    return poll_generation


@shared_task(acks_late=True)
def reconcile() -> int:
    """Ring the doorbell again for every generation whose next check is overdue (and that no
    live worker holds). Stops at the first message the broker does not take: the rest would
    wait for it too, and the next run sends them."""
    sent = 0
    for generation_id, status, past_budget in lifecycle.overdue_generations():
        if not send(_task_for(status, past_budget), generation_id):
            break
        sent += 1
    if sent:
        logger.info("Reconciler re-enqueued %d generations", sent)
    return sent


@shared_task(acks_late=True)
def forget_old_webhook_events() -> int:
    """Beat's clean-up of the webhook ids too old to be replayed."""
    from generations import webhooks  # not at the top: webhooks imports this module

    return webhooks.forget_old_events()


# -- What pages show of Rivya, refreshed by beat (and once as a worker starts) ----------------


@shared_task(acks_late=True)
def refresh_models() -> bool:
    return catalog.refresh_models()


@shared_task(acks_late=True)
def refresh_balance() -> bool:
    refreshed = health.refresh_balance()
    if refreshed:
        ring(send_alerts)  # a balance under LOW_BALANCE_CREDITS is told at once
    return refreshed


@shared_task(base=Task, **TASK_OPTIONS)  # base named: it types the decorator
def send_alerts() -> int:
    """Alerts to the admins: each claimed by a unique row before it is sent, so reruns and
    parallel runs send it once (generations/alerts.py)."""
    return alerts.send_due()


@worker_ready.connect
def refresh_rivya_state(**kwargs: Any) -> None:
    """A starting worker asks for the model list and the balance at once, not at beat's next
    turn, so a fresh install shows them within seconds."""
    try:
        refresh_models.delay()
        refresh_balance.delay()
    except BROKER_DOWN:  # beat asks again at its next turn
        logger.warning("Could not enqueue the Rivya refresh at worker start")
