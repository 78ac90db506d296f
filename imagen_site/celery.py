"""The Celery app. Workers run ``celery -A imagen_site worker``, the scheduler ``... beat``.

A task is to its thread's database connection what a request is to Django's: before and after
each one, a connection that had an error and no longer works, or is older than ``CONN_MAX_AGE``,
is closed, and a kept one is checked before its next use (``CONN_HEALTH_CHECKS``). Celery's own
rule, to close every connection around every task, is off (``CELERY_DB_REUSE_MAX``): on
PostgreSQL it cost a connection, and a server process, for each step of each job.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

from imagen_site import broker  # noqa: F401  registers the embedded broker's atomicfs:// scheme

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")

app = Celery("imagen_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_as_for_a_request(sender: Any = None, **kwargs: Any) -> None:
    """What Django does at a request's start and end, at a task's (see the module's docstring).
    Not for a task run in its caller (``apply``, eager mode): its connection is the caller's,
    perhaps inside a transaction."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()
