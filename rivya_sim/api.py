"""The public API endpoints under ``/api/v1/``: faults first, then auth, then the handler.

Assumptions where the contract is silent:

- Every ``/api/v1/`` request first waits ``faults.latency``, then may be answered by an armed
  counted fault (see ``faults``), before authentication; so faults also hit the public
  ``/models`` and ``/openapi.json``. Every such request is counted by method and path
  (``state.api_paths``), faulted ones included.
- Authentication: a missing header, a scheme other than ``Bearer`` or an empty key is
  ``api_key_missing``; a key listed in ``faults.revoked_keys`` is ``api_key_revoked`` and one in
  ``faults.expired_keys`` ``api_key_expired`` (checked before the key is compared); any other
  key but the simulator's is ``api_key_invalid``; ``faults.scope_denied`` then refuses every
  authenticated endpoint with ``api_scope_denied`` (403), naming the scope it needed.
- A 5xx fault uses code ``internal_error``; an unknown path under ``/api/v1/`` is 404
  ``not_found``; a known path with the wrong method is 405 ``method_not_allowed``.
- ``Idempotency-Key`` is trimmed; an empty one counts as absent; more than 255 characters is
  ``validation_failed``.
- ``drop_after_create`` closes the connection after the task is created (and the idempotency key
  stored) instead of answering.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from rivya_sim.catalog import models_listing, openapi_document
from rivya_sim.engine import Engine
from rivya_sim.faults import Counted, Endpoint, OddAnswer, RateLimit, ServerError, Timeout
from rivya_sim.responses import (
    ApiError,
    Request,
    Response,
    dropped,
    error_response,
    json_response,
)
from rivya_sim.validation import ValidationFailed, parse_generation

IDEMPOTENCY_KEY_MAX = 255
BAD_GATEWAY_HTML = b"<html>Bad gateway</html>"

Handler = Callable[[Engine, Request, "re.Match[str]", str], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scope: str | None  # None: public, no key needed


def handle_api(engine: Engine, request: Request) -> Response:
    """Answer one request under ``/api/v1/``."""
    endpoint = endpoint_of(request)
    engine.state.count_path(request.method, request.path)
    if endpoint != "other":
        engine.state.count(f"{endpoint}_requests")
    engine.sleep(engine.faults.latency)
    fault = engine.faults.take_request_fault(endpoint)
    if fault is not None:
        return fault_response(*fault)
    try:
        route, match = resolve(request)
        api_key = authenticate(engine, request, route.scope) if route.scope else ""
        return route.handler(engine, request, match, api_key)
    except ApiError as exc:
        return exc.response()


def endpoint_of(request: Request) -> Endpoint:
    """Which counted-fault target a request is: create, get or other."""
    if request.method == "POST" and request.path == "/api/v1/generations":
        return "create"
    if request.method == "GET" and request.path.startswith("/api/v1/generations/"):
        return "get"
    return "other"


def fault_response(kind: str, fault: Counted) -> Response:
    """The answer an armed counted fault gives instead of the real one."""
    if isinstance(fault, Timeout):
        return dropped(after=fault.seconds)
    if kind == "non_json":
        return Response(502, BAD_GATEWAY_HTML, content_type="text/html; charset=utf-8")
    if isinstance(fault, OddAnswer):
        return Response(fault.status, fault.body.encode(), fault.content_type, dict(fault.headers))
    if isinstance(fault, ServerError):
        return error_response(fault.status, "internal_error", "Internal server error.")
    if isinstance(fault, RateLimit):
        return error_response(
            429,
            "rate_limited",
            "Too many requests in the current window; back off and retry.",
            {"Retry-After": retry_after_value(fault)},
        )
    return error_response(
        503, "public_api_disabled", "The public API is temporarily disabled; retry later."
    )


def retry_after_value(fault: RateLimit) -> str:
    if not fault.retry_after_http_date:
        return str(fault.retry_after)
    when = datetime.now(tz=UTC) + timedelta(seconds=fault.retry_after)
    return format_datetime(when, usegmt=True)


def resolve(request: Request) -> tuple[Route, re.Match[str]]:
    """The route for this method and path, or 404/405."""
    path_known = False
    for route in ROUTES:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        path_known = True
        if route.method == request.method:
            return route, match
    if path_known:
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here.")
    raise ApiError(404, "not_found", f"No such endpoint: {request.path}")


def authenticate(engine: Engine, request: Request, scope: str) -> str:
    """The caller's API key, or the auth error the contract lists."""
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "api_key_missing", "A valid Bearer API key is required.")
    if key in engine.faults.revoked_keys:
        raise ApiError(401, "api_key_revoked", "This API key has been revoked.")
    if key in engine.faults.expired_keys:
        raise ApiError(401, "api_key_expired", "This API key has expired.")
    if not hmac.compare_digest(key.encode(), engine.api_key.encode()):
        raise ApiError(401, "api_key_invalid", "The API key could not be verified.")
    if engine.faults.scope_denied:
        raise ApiError(403, "api_scope_denied", f"This API key lacks the {scope} scope.")
    return key


def list_models(engine: Engine, request: Request, match: re.Match[str], api_key: str) -> Response:
    faults = engine.faults
    return json_response(models_listing(faults.unavailable_models, faults.removed_models))


def openapi(engine: Engine, request: Request, match: re.Match[str], api_key: str) -> Response:
    return json_response(openapi_document(engine.base_url))


def credits(engine: Engine, request: Request, match: re.Match[str], api_key: str) -> Response:
    return json_response({"current_credits": engine.state.credits_current})


def create_generation(
    engine: Engine, request: Request, match: re.Match[str], api_key: str
) -> Response:
    idempotency_key = request.headers.get("idempotency-key", "").strip() or None
    if idempotency_key and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        message = f"Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} characters."
        raise ApiError(400, "validation_failed", message)
    unavailable = engine.faults.unavailable_models | engine.faults.removed_models
    try:
        generation = parse_generation(request.body, unavailable)
    except ValidationFailed as exc:
        raise ApiError(400, "validation_failed", str(exc)) from exc
    status, task_object = engine.create(api_key, idempotency_key, generation)
    if engine.faults.take_drop_after_create():
        return dropped()
    return json_response(task_object, status)


def get_generation(
    engine: Engine, request: Request, match: re.Match[str], api_key: str
) -> Response:
    task = engine.state.task(match["task_id"])
    if task is None:
        raise ApiError(404, "not_found", "No generation task with this id.")
    return json_response(task.public())


ROUTES = (
    Route("GET", re.compile(r"/api/v1/models"), list_models, None),
    Route("GET", re.compile(r"/api/v1/openapi\.json"), openapi, None),
    Route("GET", re.compile(r"/api/v1/credits"), credits, "credits:read"),
    Route("POST", re.compile(r"/api/v1/generations"), create_generation, "generations:create"),
    Route(
        "GET",
        re.compile(r"/api/v1/generations/(?P<task_id>[^/]+)"),
        get_generation,
        "generations:read",
    ),
)
