"""The one client for the Rivya Public API v1 (see docs/rivya.md for every assumption).

One ``httpx.Client`` per process, explicit connect/read timeouts and a total deadline on every
call, typed results, and errors that say whether a retry can help. The API key is read from
settings here and nowhere else; it is sent only in the ``Authorization`` header and never appears
in an exception's text or a log line.

Invariant: whatever Rivya (or anything between us and it) answers, with any status, headers and
body, a public method of :class:`RivyaClient` returns its typed result (``RemoteTask``,
``ModelInfo``, a count of credits) or raises :class:`RivyaError`; nothing else leaves it. Every
call goes through ``RivyaClient._request``, the one place that talks to the network.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx
from django.conf import settings

from generations import health, telemetry
from generations.errors import ErrorPolicy, policy_for

logger = logging.getLogger(__name__)

CREATE_OK = (200, 201, 202)  # the docs do not say which one a create answers; all mean created
MAX_ANSWER_BYTES = 5 * 1024 * 1024  # an API answer is a few kB; anything near this is broken
# The longest wait a Retry-After may ask of us. A longer one is capped to this (it still asks us
# to wait), so an absurd value can neither overflow a date nor park a generation for days.
MAX_RETRY_AFTER_SECONDS = 15 * 60
MAX_CREDITS = 2**31 - 1  # the ledger's integer columns hold no more; a larger count is garbage
MAX_TEXT = 500  # Rivya's messages are kept to this many characters (they reach cards and logs)
MAX_URL = 8192  # a result address longer than this is not one we will fetch
# A task id goes into the path of every status check, so it must be a plain token. Rivya's ids
# look like ``task_<hex>``; the column that keeps them (remote_task_id) holds 128 characters.
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # error_code is a 64-character column
REQUEST_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# Every exception httpx raises derives from one of these (a test walks httpx's classes to keep
# it so): HTTPError covers neither InvalidURL, CookieConflict nor the StreamError family.
HTTPX_FAILURES: Final = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, httpx.CookieConflict)


# Rivya's final task statuses (the others mean it is still working on it).
SUCCEEDED = "succeeded"
FAILED = "failed"


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


class TaskStatus(StrEnum):
    """A task's status. Rivya documents the first four. Any other status it sends is read as
    ``UNKNOWN``, which the lifecycle treats as "still running" (it acts only on ``succeeded``
    and ``failed``): a status Rivya adds later keeps us checking, within the time budget, and
    never fails a generation by itself."""

    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RemoteTask:
    id: str
    status: TaskStatus
    model: str
    reserved_credits: int
    final_credits: int
    urls: list[str] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""

    @property
    def is_finished(self) -> bool:
        return self.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)


@dataclass(frozen=True)
class ModelParam:
    key: str
    type: str
    default: str | int | float | None = None
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


# -- Reading headers and bodies ------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` (seconds, or an HTTP date) as seconds from 0 to
    :data:`MAX_RETRY_AFTER_SECONDS`: a longer wait is capped, a date in the past is 0. None when
    absent or unreadable (negative, a fraction, NaN, any garbage): the caller then uses its own
    backoff."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not '²', which int() and float() refuse
        seconds: float | None = float(value)  # inf for a thousand digits: capped below
    else:
        seconds = _seconds_until(value, time.time() if now is None else now)
    if seconds is None:
        return None
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER_SECONDS))


def _seconds_until(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp() - now
    except (TypeError, ValueError, OverflowError):  # not a date, or one no datetime can hold
        return None


class _NotJson:
    """The value of a body that is not JSON (a sentinel: ``None`` is JSON's null)."""


NOT_JSON: Final = _NotJson()


def loads(body: bytes) -> Any:
    """The body as JSON, or :data:`NOT_JSON`: not UTF-8, truncated, an integer of thousands of
    digits (ValueError), or nested deeper than the interpreter's stack (RecursionError)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_JSON


def _text(value: Any) -> str:
    """A string field as a short plain text; anything else (a number, an object) as empty."""
    if not isinstance(value, str):
        return ""
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _token(value: Any, pattern: re.Pattern[str]) -> str:
    return value if isinstance(value, str) and pattern.fullmatch(value) else ""


def _protocol_error(what: str) -> RivyaError:
    return RivyaError("protocol_error", what)


def _require(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _protocol_error(f"the field {key!r} is missing or of the wrong type")
    return value


def _count(data: dict[str, Any], key: str, *, required: bool = False) -> int:
    """A count of credits: a whole number from 0 to MAX_CREDITS (not a boolean, not 8.0)."""
    value = data.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _protocol_error(f"the field {key!r} is missing or not a whole number")
    if not 0 <= value <= MAX_CREDITS:
        raise _protocol_error(f"the field {key!r} is out of range")
    return value


def _object_or_empty(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _protocol_error(f"the field {key!r} is not an object")
    return value


def _is_web_address(value: Any) -> bool:
    """An absolute http(s) address without spaces or control characters. Whether it is safe
    to fetch is the downloader's to judge; this only drops what cannot be an address."""
    if not isinstance(value, str) or len(value) > MAX_URL or not value.isprintable():
        return False
    if " " in value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed [ in the host
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _result_urls(result: dict[str, Any]) -> list[str]:
    """Every usable result URL once, ``primary_url`` first. A ``urls`` that is not a list is
    ignored (``primary_url`` alone then); an entry that is not an http(s) address is dropped."""
    listed = result.get("urls")
    candidates = [result.get("primary_url"), *(listed if isinstance(listed, list) else [])]
    return list(dict.fromkeys(url for url in candidates if _is_web_address(url)))


def _status(value: str) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        logger.warning("Rivya sent a task status this app does not know: %.40r", value)
        return TaskStatus.UNKNOWN


def _task_id(data: dict[str, Any]) -> str:
    task_id = _require(data, "id", str)
    if not TASK_ID.fullmatch(task_id):
        raise _protocol_error("the task id is not a plain token (letters, digits, _ and -)")
    return str(task_id)


def parse_task(data: Any) -> RemoteTask:
    """Read a task object: unknown fields are ignored, a missing or mistyped required one is a
    protocol_error, and so is an id that is not a plain token (:data:`TASK_ID`). A status this
    app does not know is :attr:`TaskStatus.UNKNOWN` (still running)."""
    if not isinstance(data, dict):
        raise _protocol_error("a task was not a JSON object")
    error = _object_or_empty(data, "error")
    return RemoteTask(
        id=_task_id(data),
        status=_status(_require(data, "status", str)),
        model=_text(data.get("model")),
        reserved_credits=_count(data, "reserved_credits"),
        final_credits=_count(data, "final_credits"),
        urls=_result_urls(_object_or_empty(data, "result")),
        error_code=_token(error.get("code"), ERROR_CODE),
        error_message=_text(error.get("message")),
    )


def _param_default(value: Any) -> str | int | float | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float) else None


def _parse_param(raw: Any) -> ModelParam | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str) or not raw["key"]:
        return None
    options = raw.get("options")
    return ModelParam(
        key=_text(raw["key"]),
        type=_text(raw.get("type")) or "text",
        default=_param_default(raw.get("default")),
        options=tuple(
            str(option)
            for option in (options if isinstance(options, list) else [])
            if isinstance(option, str | int) and not isinstance(option, bool)
        ),
    )


def parse_model(data: Any) -> ModelInfo:
    """Read one entry of the model list; ``available`` means the API can run it now."""
    if not isinstance(data, dict):
        raise _protocol_error("a model was not a JSON object")
    model_id = _require(data, "id", str)
    if not model_id or len(model_id) > MAX_TEXT:
        raise _protocol_error("a model id was empty or too long")
    raw_params = data.get("params")
    params = raw_params if isinstance(raw_params, list) else []
    max_len = data.get("max_prompt_length")
    return ModelInfo(
        id=model_id,
        display_name=_text(data.get("display_name")) or model_id,
        base_credits=_count(data, "base_credits", required=True),
        max_prompt_length=max_len
        if isinstance(max_len, int) and not isinstance(max_len, bool) and max_len > 0
        else None,
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
        """The body as JSON, or :data:`NOT_JSON`."""
        return loads(self.body)


def _envelope(data: Any) -> tuple[str, str, str] | None:
    """``(code, message, requestId)`` of the documented error envelope, or None for any other
    shape (``{"error": "Service Unavailable"}``, ``{"error": null}``, a list, a number …)."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code = _token(error.get("code"), ERROR_CODE)
    if not code:
        return None
    return code, _text(error.get("message")), _token(error.get("requestId"), REQUEST_ID)


def _what_came(status: int, body: bytes, data: Any) -> str:
    if not body.strip():
        return f"HTTP {status} with an empty body"
    if data is NOT_JSON:
        return f"HTTP {status} with a body that is not a JSON error"
    return f"HTTP {status} with a JSON body that is not Rivya's error envelope"


def parse_error(answer: Answer) -> RivyaError:
    """The error a non-success answer stands for, whatever its body.

    1. ``Retry-After`` is read (capped, or None when unreadable).
    2. The documented envelope gives the code, message and requestId; an unknown code is kept
       as Rivya sent it. Any other body (HTML, empty, a string, a list …) has no code.
    3. A 5xx or a 429 is always retried, whatever its body: it is Rivya's trouble or a request
       to wait. A code whose row is not retried is then spoken for by the ``server_error`` (or
       ``rate_limited``) row.
    4. Any other status without the envelope is a ``protocol_error``, not retried.
    """
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    status = answer.status
    data = answer.json()
    fields = _envelope(data)
    trouble = "rate_limited" if status == 429 else "server_error" if status >= 500 else None
    if fields is None:
        return RivyaError(
            trouble or "protocol_error",
            _what_came(status, answer.body, data),
            status=status,
            retry_after=retry_after,
            retryable=trouble is not None,
        )
    code, message, request_id = fields
    return RivyaError(
        code,
        message,
        status=status,
        retry_after=retry_after,
        request_id=request_id,
        kind=trouble if trouble and not policy_for(code).retry else None,
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
        # Joined with each path at call time (not httpx's base_url), so that a base URL httpx
        # cannot read fails the call as a RivyaError instead of this constructor.
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
            timeout=timeout, headers=headers, transport=transport, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Every call goes through here: its outcome is noted for the studio's health, and
        logged and counted for operators (``telemetry``)."""
        started = time.monotonic()
        try:
            answer = self._exchange(method, path, **kwargs)
        except RivyaError as exc:
            health.note_failure(exc)
            telemetry.rivya_call(method, path, started, None, exc)
            raise
        refused = parse_error(answer) if answer.status >= 400 else None
        if refused is not None and (answer.status >= 500 or answer.status == 429):
            health.note_failure(refused)  # Rivya answered, but is not working
        else:
            health.note_success()
        telemetry.rivya_call(method, path, started, answer.status, refused)
        return answer

    def _exchange(self, method: str, path: str, **kwargs: Any) -> Answer:
        """One call, answered whole within ``total_timeout`` seconds (checked as the body
        arrives, so a server that drips its answer is cut off), or a RivyaError. Every call to
        Rivya goes through here, and no httpx exception gets past it."""
        deadline = time.monotonic() + self.total_timeout
        try:
            with self._http.stream(method, self.base_url + path, **kwargs) as response:
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
        except httpx.DecodingError as exc:  # a body its Content-Encoding does not describe
            raise _protocol_error(type(exc).__name__) from None
        except HTTPX_FAILURES as exc:
            raise RivyaError("connection_error", type(exc).__name__) from None

    def _json(self, answer: Answer, ok: tuple[int, ...] = (200,)) -> Any:
        if answer.status not in ok:
            raise parse_error(answer)
        data = answer.json()
        if data is NOT_JSON:
            raise _protocol_error(f"HTTP {answer.status} with a body that is not JSON")
        return data

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
        """One GET of a task. An id that is not a plain token is refused before anything is
        sent (it could only have come from a bad answer), and the id is escaped in the path
        all the same, so no id can reach another endpoint."""
        if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
            raise RivyaError(
                "protocol_error",
                "the task id is not a plain token, so it was not sent",
                retryable=False,
            )
        path = f"/api/v1/generations/{quote(task_id, safe='')}"
        return parse_task(self._json(self._request("GET", path)))

    def get_credits(self) -> int:
        data = self._json(self._request("GET", "/api/v1/credits"))
        if not isinstance(data, dict):
            raise _protocol_error("credits was not a JSON object")
        return _count(data, "current_credits", required=True)

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
