"""A task treats its thread's database connection as Django treats a request's
(imagen_site/celery.py): kept across tasks for CONN_MAX_AGE, closed after each one with 0, and
never closed under a task run in its caller's transaction. Celery's own habit, a new connection
around every task, would make a new PostgreSQL server process for every step of every job."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from imagen_site.celery import app as celery_app
from tests.support import wait_for

USED: list[
    tuple[int, Any]
] = []  # (thread, the DB-API connection object), kept alive: ids stay apart


@celery_app.task
def use_the_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    USED.append((threading.get_ident(), connection.connection))


def connections_by_thread(tasks: int) -> dict[int, set[int]]:
    USED.clear()
    for _ in range(tasks):
        use_the_database.delay()
    wait_for(lambda: len(USED) >= tasks, timeout=30)
    seen: dict[int, set[int]] = defaultdict(set)
    for thread, raw in USED:
        seen[thread].add(id(raw))
    return seen


def threads_with_several_tasks(tasks: int) -> list[int]:
    counts: dict[int, int] = defaultdict(int)
    for thread, _ in USED:
        counts[thread] += 1
    return [thread for thread, n in counts.items() if n > 1]


@pytest.mark.parametrize(("max_age", "kept"), [(60, True), (0, False)])
def test_a_worker_thread_keeps_its_connection_for_conn_max_age(celery_worker, max_age, kept):
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = max_age  # every thread's connection reads this
    try:
        seen = connections_by_thread(16)
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved
    busy = threads_with_several_tasks(16)
    assert busy, "no worker thread ran two tasks"
    for thread in busy:
        assert (len(seen[thread]) == 1) is kept, seen[thread]


def test_a_task_run_in_its_caller_leaves_the_callers_connection_open(alice):
    use_the_database.apply()  # as the tests and eager mode run tasks: inside this transaction
    assert not connection.needs_rollback
    assert User.objects.filter(username="alice").exists()  # the transaction goes on
