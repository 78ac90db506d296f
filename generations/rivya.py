"""The one client for the Rivya Public API v1 (see docs/rivya.md for every assumption).

One ``httpx.Client`` per process, explicit connect/read timeouts and a total deadline on every
call, typed results, and errors that say whether a retry can help. The API key is read from
settings here and nowhere else; it is sent only in the ``Authorization`` header and never appears
in an exception's text or a log line.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from generations import health

logger = logging.getLogger(__name__)

CREATE_OK = (200, 201, 202)  # the docs do not say which one a create answers; all mean created
MAX_ANSWER_BYTES = 5 * 1024 * 1024  # an API answer is a few kB; anything near this is broken


@dataclass(frozen=True)
class ErrorPolicy:
    """What an error code means for us. For a retryable code, ``member_message`` is what the
    member reads once the retries are used up (while retrying, the card says it is waiting)."""

    retry: bool
    member_message: str
    admin_message: str


_ASK_ADMIN = "Please tell an admin; nothing was charged."
_KEY_PROBLEM = "The Rivya API key is not accepted ({code}). Set a valid RIVYA_API_KEY."
_NOT_SET_UP = "The studio is not set up to reach Rivya. " + _ASK_ADMIN
_GAVE_UP = " so we stopped trying. Its credits were returned; try again in a few minutes."

# Every error code the docs list (and the few this client makes itself), in one table.
ERROR_POLICIES: dict[str, ErrorPolicy] = {
    "validation_failed": ErrorPolicy(
        False,
        "Rivya did not accept these settings: {message} Change them and try again.",
        "Rivya rejected a request as invalid: {message}",
    ),
    "insufficient_credits": ErrorPolicy(
        False,
        "The team's Rivya account is out of credits. An admin has been told; try again once "
        "credits are added.",
        "The Rivya account has too few credits for a generation. Add credits at rivya.ai.",
    ),
    "idempotency_conflict": ErrorPolicy(
        False,
        "This request clashed with an earlier one under the same id. Submit it again as new.",
        "Rivya reported idempotency_conflict: the same key was sent with a different body.",
    ),
    "rate_limited": ErrorPolicy(
        True,
        "Rivya kept asking us to slow down," + _GAVE_UP,
        "Rivya rate-limited us ({message}).",
    ),
    "public_api_disabled": ErrorPolicy(
        True,
        "Rivya's API stayed switched off," + _GAVE_UP,
        "Rivya's public API is switched off for now (public_api_disabled); we keep retrying.",
    ),
    "not_found": ErrorPolicy(
        False,
        "Rivya no longer knows this job. Submit it again. " + _ASK_ADMIN,
        "Rivya answered not_found for a task we created: was the API key changed?",
    ),
    "generation_failed": ErrorPolicy(
        False,
        "Rivya could not make this image. Nothing was charged. Try again, perhaps with a "
        "different prompt.",
        "A task ended failed with generation_failed.",
    ),
    "api_key_missing": ErrorPolicy(False, _NOT_SET_UP, _KEY_PROBLEM),
    "api_key_invalid": ErrorPolicy(False, _NOT_SET_UP, _KEY_PROBLEM),
    "api_key_revoked": ErrorPolicy(False, _NOT_SET_UP, _KEY_PROBLEM),
    "api_key_expired": ErrorPolicy(False, _NOT_SET_UP, _KEY_PROBLEM),
    "api_scope_denied": ErrorPolicy(
        False,
        "The studio is not allowed to do this at Rivya. " + _ASK_ADMIN,
        "The Rivya API key lacks a scope (generations:create, generations:read, credits:read, "
        "models:read). Create a key with all scopes.",
    ),
    "model_unavailable": ErrorPolicy(
        False,
        "This model is not available at Rivya any more. Pick another model and try again.",
        "Rivya no longer offers {message} (unavailable or gone from GET /api/v1/models); the "
        "form no longer offers it.",
    ),
    "server_error": ErrorPolicy(
        True,
        "Rivya kept answering with server errors," + _GAVE_UP,
        "Rivya answered with a server error ({message}).",
    ),
    "timeout": ErrorPolicy(
        True,
        "Rivya kept taking too long to answer," + _GAVE_UP,
        "Rivya did not answer in time ({message}).",
    ),
    "connection_error": ErrorPolicy(
        True,
        "We could not reach Rivya," + _GAVE_UP,
        "Could not connect to Rivya ({message}). Check RIVYA_BASE_URL and the network.",
    ),
    "protocol_error": ErrorPolicy(
        True,
        "Rivya sent answers we could not read," + _GAVE_UP,
        "Rivya sent an answer we could not read ({message}).",
    ),
}
UNKNOWN_ERROR = ErrorPolicy(
    False,
    "Rivya refused this request ({code}). " + _ASK_ADMIN,
    "Rivya answered with an error code this app does not know: {code}: {message}",
)


def policy_for(code: str) -> ErrorPolicy:
    return ERROR_POLICIES.get(code, UNKNOWN_ERROR)


class RivyaError(Exception):
    """An error from (or on the way to) Rivya. ``retryable`` says whether trying again can help.

    ``code`` is what Rivya said (or ours, for failures before an answer); ``kind`` is the row of
    :data:`ERROR_POLICIES` that speaks for it, which differs only for a code we do not know that
    came with a 5xx (Rivya's trouble, so the ``server_error`` row)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str = "",
        retryable: bool | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.kind = kind or code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.retryable = policy_for(self.kind).retry if retryable is None else retryable

    @property
    def policy(self) -> ErrorPolicy:
        return policy_for(self.kind)

    @property
    def member_message(self) -> str:
        return self.policy.member_message.format(code=self.code, message=self.message)

    @property
    def admin_message(self) -> str:
        return self.policy.admin_message.format(code=self.code, message=self.message)


@dataclass(frozen=True)
class RemoteTask:
    id: str
    status: str
    model: str
    reserved_credits: int
    final_credits: int
    urls: list[str] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""

    @property
    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed")


@dataclass(frozen=True)
class ModelParam:
    key: str
    type: str
    default: Any = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    id: str
    display_name: str
    base_credits: int
    max_prompt_length: int | None
    available: bool
    params: tuple[ModelParam, ...] = ()

    def param(self, key: str) -> ModelParam | None:
        return next((p for p in self.params if p.key == key), None)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not '²', which int() and float() refuse
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _protocol_error(what: str) -> RivyaError:
    return RivyaError("protocol_error", what)


def _require(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _protocol_error(f"the field {key!r} is missing or of the wrong type")
    return value


def _optional_int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _protocol_error(f"the field {key!r} is not a whole number")
    return value


def _object_or_empty(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _protocol_error(f"the field {key!r} is not an object")
    return value


def _result_urls(result: dict[str, Any]) -> list[str]:
    """Every result URL once, ``primary_url`` first."""
    urls = [u for u in (result.get("urls") or []) if isinstance(u, str) and u]
    primary = result.get("primary_url")
    if isinstance(primary, str) and primary:
        urls.insert(0, primary)
    return list(dict.fromkeys(urls))


def parse_task(data: Any) -> RemoteTask:
    """Read a task object: unknown fields are ignored, a missing required one is an error."""
    if not isinstance(data, dict):
        raise _protocol_error("a task was not a JSON object")
    error = _object_or_empty(data, "error")
    return RemoteTask(
        id=_require(data, "id", str),
        status=_require(data, "status", str),
        model=str(data.get("model") or ""),
        reserved_credits=_optional_int(data, "reserved_credits"),
        final_credits=_optional_int(data, "final_credits"),
        urls=_result_urls(_object_or_empty(data, "result")),
        error_code=str(error.get("code") or ""),
        error_message=str(error.get("message") or ""),
    )


def _parse_param(raw: Any) -> ModelParam | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    options = raw.get("options")
    return ModelParam(
        key=raw["key"],
        type=str(raw.get("type") or "text"),
        default=raw.get("default"),
        options=tuple(str(o) for o in options) if isinstance(options, list) else (),
    )


def parse_model(data: Any) -> ModelInfo:
    """Read one entry of the model list; ``available`` means the API can run it now."""
    if not isinstance(data, dict):
        raise _protocol_error("a model was not a JSON object")
    model_id = _require(data, "id", str)
    raw_params = data.get("params")
    params = raw_params if isinstance(raw_params, list) else []
    max_len = data.get("max_prompt_length")
    return ModelInfo(
        id=model_id,
        display_name=str(data.get("display_name") or model_id),
        base_credits=_require(data, "base_credits", int),
        max_prompt_length=max_len if isinstance(max_len, int) else None,
        available=data.get("api_status") == "available"
        and data.get("runtime", "async_task") == "async_task",
        params=tuple(p for p in map(_parse_param, params) if p is not None),
    )


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole within the call's deadline."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _error_fields(answer: Answer) -> tuple[str, str, str] | None:
    """``(code, message, requestId)`` of the documented error envelope, or None."""
    try:
        error = answer.json()["error"]
        request_id = str(error.get("requestId") or "")
        return str(error["code"]), str(error.get("message") or ""), request_id
    except (ValueError, KeyError, TypeError):
        return None


def parse_error(answer: Answer) -> RivyaError:
    """The error a non-success answer stands for. An unknown code is kept as Rivya sent it."""
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    status = answer.status
    fields = _error_fields(answer)
    if fields is None:  # a proxy's HTML page, an empty body …
        kind = "rate_limited" if status == 429 else "server_error" if status >= 500 else ""
        return RivyaError(
            kind or "protocol_error",
            f"HTTP {status} with a body that is not a JSON error",
            status=status,
            retry_after=retry_after,
            retryable=bool(kind),
        )
    code, message, request_id = fields
    unknown_5xx = code not in ERROR_POLICIES and status >= 500
    return RivyaError(
        code,
        message,
        status=status,
        retry_after=retry_after,
        request_id=request_id,
        kind="server_error" if unknown_5xx else None,
    )


class RivyaClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        total_timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.total_timeout = total_timeout
        # Each network step is bounded by its own timeout, and never by more than the total.
        timeout = httpx.Timeout(
            min(read_timeout, total_timeout), connect=min(connect_timeout, total_timeout)
        )
        headers = {"Accept": "application/json"}
        if api_key:  # none set: Rivya answers api_key_missing, which names the fix
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Every call goes through here: its outcome is noted for the studio's health."""
        try:
            answer = self._exchange(method, path, **kwargs)
        except RivyaError as exc:
            health.note_failure(exc)
            raise
        if answer.status >= 500 or answer.status == 429:  # Rivya answered, but is not working
            health.note_failure(parse_error(answer))
        else:
            health.note_success()
        return answer

    def _exchange(self, method: str, path: str, **kwargs: Any) -> Answer:
        """One call, answered whole within ``total_timeout`` seconds (checked as the body
        arrives, so a server that drips its answer is cut off), or a retryable RivyaError."""
        deadline = time.monotonic() + self.total_timeout
        try:
            with self._http.stream(method, path, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise RivyaError("timeout", f"no full answer within {self.total_timeout} s")
                    if len(body) > MAX_ANSWER_BYTES:
                        raise _protocol_error(f"the answer is over {MAX_ANSWER_BYTES} bytes")
                return Answer(response.status_code, response.headers, bytes(body))
        except httpx.TimeoutException as exc:
            raise RivyaError("timeout", type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise RivyaError("connection_error", type(exc).__name__) from None

    def _json(self, answer: Answer, ok: tuple[int, ...] = (200,)) -> Any:
        if answer.status not in ok:
            raise parse_error(answer)
        try:
            return answer.json()
        except ValueError:
            raise _protocol_error(f"HTTP {answer.status} with a body that is not JSON") from None

    def create_generation(
        self, *, model: str, prompt: str, params: dict[str, Any], idempotency_key: str
    ) -> RemoteTask:
        """One POST. The key goes as ``Idempotency-Key`` and ``client_request_id`` every time."""
        body = {
            "model": model,
            "prompt": prompt,
            "params": params,
            "client_request_id": idempotency_key,
        }
        answer = self._request(
            "POST", "/api/v1/generations", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return parse_task(self._json(answer, CREATE_OK))

    def get_generation(self, task_id: str) -> RemoteTask:
        return parse_task(self._json(self._request("GET", f"/api/v1/generations/{task_id}")))

    def get_credits(self) -> int:
        data = self._json(self._request("GET", "/api/v1/credits"))
        if not isinstance(data, dict):
            raise _protocol_error("credits was not a JSON object")
        return int(_require(data, "current_credits", int))

    def list_models(self) -> list[ModelInfo]:
        """Every model Rivya lists; an entry we cannot read is skipped (and logged), so one odd
        model elsewhere in the catalog does not hide the ones we use."""
        data = self._json(self._request("GET", "/api/v1/models"))
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise _protocol_error("the model list had no data array")
        models = []
        for item in data["data"]:
            try:
                models.append(parse_model(item))
            except RivyaError as exc:
                logger.warning("Skipped a model Rivya listed: %s", exc.message)
        return models


_client: RivyaClient | None = None
_client_pid: int | None = None
_client_lock = threading.Lock()


def get_client() -> RivyaClient:
    """The process's client, made on first use (and again in a forked child: sockets don't fork)."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            _client = RivyaClient(
                settings.RIVYA_BASE_URL,
                settings.RIVYA_API_KEY,
                connect_timeout=settings.RIVYA_CONNECT_TIMEOUT,
                read_timeout=settings.RIVYA_READ_TIMEOUT,
                total_timeout=settings.RIVYA_TOTAL_TIMEOUT,
            )
            _client_pid = os.getpid()
        return _client


def reset_client() -> None:
    """Forget the process's client (tests and settings changes)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None
