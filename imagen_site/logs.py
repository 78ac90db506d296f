"""What every log line says about where it came from, and the JSON form of a line.

Each web request gets a request id (the proxy's ``X-Request-ID`` when it is a plain token, else a
new one), sent back in the response's ``X-Request-ID``; each Celery task runs under its task id,
and a task about one generation under that generation's id too. A filter puts both on every
record, so ``LOG_FORMAT=json`` writes them on every line, beside what the line itself carries
(a Rivya call's endpoint, outcome and Rivya's ``requestId``: ``generations/telemetry.py``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.http import HttpRequest
from django.http.response import HttpResponseBase

request_id: ContextVar[str] = ContextVar("request_id", default="")
generation: ContextVar[int | None] = ContextVar("generation", default=None)

# A proxy's id is kept only when it cannot smuggle anything into a log line.
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Attributes every LogRecord has; anything else on a record was passed as ``extra``.
RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def request_id_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        given = request.headers.get("X-Request-ID", "")
        token = request_id.set(given if SAFE_ID.fullmatch(given) else uuid.uuid4().hex)
        try:
            response = get_response(request)
            response["X-Request-ID"] = request_id.get()
            return response
        finally:
            request_id.reset(token)

    return middleware


@task_prerun.connect
def _task_started(task_id: str, task: Any, args: Any = (), kwargs: Any = None, **_: Any) -> None:
    """A task's lines carry its id; a task of ``generations.tasks`` whose first argument is a
    number is about that generation (``submit_generation(generation_id)`` and the like)."""
    request_id.set(task_id)
    given = (kwargs or {}).get("generation_id", args[0] if args else None)
    about = task.name.startswith("generations.tasks.") and isinstance(given, int)
    generation.set(given if about else None)


@task_postrun.connect
def _task_ended(**_: Any) -> None:
    request_id.set("")
    generation.set(None)


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``generation`` on every record (for any formatter to use)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.generation = generation.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id and generation
    when there are any, everything passed as ``extra``, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in RECORD_FIELDS and value not in ("", None):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)
