"""Test-only control endpoints under ``/_sim/`` (no auth, never faulted).

- ``GET /_sim/state``: the record, plus ``faults`` and ``config``.
- ``POST /_sim/faults``: a JSON object of fault changes (see ``Faults.apply``).
- ``POST /_sim/reset``: forget tasks, counters, idempotency keys and webhook records, restore the
  initial balance, switch every fault off. Configuration (key, delay, create status, webhook
  target) is kept.
- ``POST /_sim/credits`` ``{"current_credits": N}``.
- ``POST /_sim/tasks/<id>/finish`` ``{"status": "succeeded" | "failed"}``: 404 for an unknown
  task, 409 for one already finished.
- ``POST /_sim/webhook`` ``{"url": ..., "secret": "whsec_..."}``; a null url turns webhooks off.
- ``POST /_sim/config`` ``{"delay": seconds, "create_status": 200 | 201 | 202}``.

Errors use the API envelope (code ``validation_failed``, ``not_found`` or ``conflict``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rivya_sim.engine import Engine
from rivya_sim.responses import ApiError, Request, Response, json_response

CREATE_STATUSES = (200, 201, 202)
_FINISH = re.compile(r"/_sim/tasks/(?P<task_id>[^/]+)/finish")


def handle_control(engine: Engine, request: Request) -> Response:
    """Answer one ``/_sim/`` request."""
    try:
        return _dispatch(engine, request)
    except ApiError as exc:
        return exc.response()


def _dispatch(engine: Engine, request: Request) -> Response:
    if request.method == "GET" and request.path == "/_sim/state":
        return json_response(state_document(engine))
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here.")
    body = _json_object(request.body)
    finish = _FINISH.fullmatch(request.path)
    if finish is not None:
        return _finish(engine, finish["task_id"], body)
    handler = _POST_HANDLERS.get(request.path)
    if handler is None:
        raise ApiError(404, "not_found", f"No such control endpoint: {request.path}")
    return handler(engine, body)


def state_document(engine: Engine) -> dict[str, Any]:
    """The record, the fault switches and the configuration."""
    return {
        **engine.state.snapshot(),
        "faults": engine.faults.snapshot(),
        "config": {
            "base_url": engine.base_url,
            "delay": engine.delay,
            "create_status": engine.create_status,
            "webhook_url": engine.webhook_url,
        },
    }


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"The body is not valid JSON ({exc}).") from exc
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object.")
    return body


def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation_failed", message)


def _faults(engine: Engine, body: dict[str, Any]) -> Response:
    try:
        engine.faults.apply(body)
    except ValueError as exc:
        raise _invalid(str(exc)) from exc
    return json_response(engine.faults.snapshot())


def _reset(engine: Engine, body: dict[str, Any]) -> Response:
    engine.reset()
    return json_response({"reset": True})


def _credits(engine: Engine, body: dict[str, Any]) -> Response:
    credits = body.get("current_credits")
    if isinstance(credits, bool) or not isinstance(credits, int):
        raise _invalid("current_credits must be an integer.")
    engine.state.set_credits(credits)
    return json_response({"current_credits": credits})


def _finish(engine: Engine, task_id: str, body: dict[str, Any]) -> Response:
    status = body.get("status", "succeeded")
    try:
        return json_response(engine.finish_task(task_id, status))
    except KeyError as exc:
        raise ApiError(404, "not_found", f"No generation task {task_id}.") from exc
    except ValueError as exc:
        code = 400 if status not in ("succeeded", "failed") else 409
        raise ApiError(code, "validation_failed" if code == 400 else "conflict", str(exc)) from exc


def _webhook(engine: Engine, body: dict[str, Any]) -> Response:
    url, secret = body.get("url"), body.get("secret")
    if not isinstance(url, str | None) or not isinstance(secret, str | None):
        raise _invalid("url and secret must be strings (or null).")
    try:
        engine.set_webhook(url, secret)
    except ValueError as exc:
        raise _invalid(str(exc)) from exc
    return json_response({"webhook_url": engine.webhook_url})


def _config(engine: Engine, body: dict[str, Any]) -> Response:
    delay = body.get("delay", engine.delay)
    status = body.get("create_status", engine.create_status)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise _invalid("delay must be a non-negative number of seconds.")
    if status not in CREATE_STATUSES:
        raise _invalid("create_status must be 200, 201 or 202.")
    engine.delay, engine.create_status = float(delay), status
    return json_response({"delay": engine.delay, "create_status": engine.create_status})


_POST_HANDLERS = {
    "/_sim/faults": _faults,
    "/_sim/reset": _reset,
    "/_sim/credits": _credits,
    "/_sim/webhook": _webhook,
    "/_sim/config": _config,
}
