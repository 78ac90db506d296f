"""How each call to Rivya went, for operators: a log line and a Prometheus counter.

The client (``rivya.RivyaClient._request``) reports every call here. The line carries the
endpoint, the outcome, the HTTP status, how long it took and Rivya's ``requestId`` when its answer
had one (the generation and the request id come from ``imagen_site/logs.py``). The counter
``imagen_rivya_calls_total{endpoint, outcome}`` lives in the process that made the call; with
``PROMETHEUS_MULTIPROC_DIR`` set, every process of a machine writes it there and ``/metrics``
adds them up (``generations/metrics.py``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from prometheus_client import Counter

from generations.errors import ERROR_POLICIES

if TYPE_CHECKING:
    from generations.rivya import RivyaError

logger = logging.getLogger(__name__)

RIVYA_CALLS = Counter(
    "imagen_rivya_calls", "Calls to the Rivya API by endpoint and outcome", ["endpoint", "outcome"]
)
GENERATION_PATH = "/api/v1/generations/"


def endpoint_of(method: str, path: str) -> str:
    """The endpoint as a label: a task's id is never a label value (one series per id)."""
    if path.startswith(GENERATION_PATH):
        path = GENERATION_PATH + "{id}"
    return f"{method} {path}"


def outcome_of(error: RivyaError | None) -> str:
    """``ok``, a code the studio knows (``rate_limited``, ``timeout``…), or ``other_error``: Rivya
    could send any code, and each would be a series of its own."""
    if error is None:
        return "ok"
    return error.kind if error.kind in ERROR_POLICIES else "other_error"


def rivya_call(
    method: str, path: str, started: float, status: int | None, error: RivyaError | None
) -> None:
    endpoint, outcome = endpoint_of(method, path), outcome_of(error)
    RIVYA_CALLS.labels(endpoint=endpoint, outcome=outcome).inc()
    seconds = round(time.monotonic() - started, 3)
    logger.info(
        "Rivya %s: %s in %.3f s",
        endpoint,
        outcome,
        seconds,
        extra={
            "rivya_endpoint": endpoint,
            "rivya_outcome": outcome,
            "rivya_status": status,
            "rivya_seconds": seconds,
            "rivya_request_id": error.request_id if error is not None else "",
        },
    )
