"""The one client for the Rivya Public API v1 (see docs/rivya.md for every assumption).

One ``httpx.Client`` per process, explicit timeouts on every call, typed results, and errors that
say whether a retry can help. The API key is read from settings here and nowhere else; it is sent
only in the ``Authorization`` header and never appears in an exception's text or a log line.
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

CREATE_OK = (200, 201, 202)  # the docs do not say which one a create answers; all mean created


@dataclass(frozen=True)
class ErrorPolicy:
    retry: bool
    member_message: str
    admin_message: str


_ASK_ADMIN = "Please tell an admin; nothing was charged."
_KEY_PROBLEM = "The Rivya API key is not accepted ({code}). Set a valid RIVYA_API_KEY."
_BUSY = "Rivya is busy right now. We will keep trying; you do not need to submit again."

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
    "rate_limited": ErrorPolicy(True, _BUSY, "Rivya rate-limited us ({message})."),
    "public_api_disabled": ErrorPolicy(
        True, _BUSY, "Rivya's public API is switched off for now; we keep retrying."
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
    "api_key_missing": ErrorPolicy(
        False, "The studio is not set up to reach Rivya. " + _ASK_ADMIN, _KEY_PROBLEM
    ),
    "api_key_invalid": ErrorPolicy(
        False, "The studio is not set up to reach Rivya. " + _ASK_ADMIN, _KEY_PROBLEM
    ),
    "api_key_revoked": ErrorPolicy(
        False, "The studio is not set up to reach Rivya. " + _ASK_ADMIN, _KEY_PROBLEM
    ),
    "api_key_expired": ErrorPolicy(
        False, "The studio is not set up to reach Rivya. " + _ASK_ADMIN, _KEY_PROBLEM
    ),
    "api_scope_denied": ErrorPolicy(
        False,
        "The studio is not allowed to do this at Rivya. " + _ASK_ADMIN,
        "The Rivya API key lacks a scope (generations:create, generations:read, credits:read, "
        "models:read). Create a key with all scopes.",
    ),
    "model_unavailable": ErrorPolicy(
        False,
        "This model is not available at Rivya any more. Pick another model and try again.",
        "Rivya reports the model as unavailable; it is hidden from the form.",
    ),
    "server_error": ErrorPolicy(True, _BUSY, "Rivya answered with a server error ({message})."),
    "network_error": ErrorPolicy(True, _BUSY, "Could not reach Rivya ({message})."),
    "protocol_error": ErrorPolicy(
        True, _BUSY, "Rivya sent an answer we could not read ({message})."
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
    """An error from (or on the way to) Rivya. ``retryable`` says whether trying again can help."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str = "",
        retryable: bool | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.retryable = policy_for(code).retry if retryable is None else retryable

    @property
    def member_message(self) -> str:
        return policy_for(self.code).member_message.format(code=self.code, message=self.message)

    @property
    def admin_message(self) -> str:
        return policy_for(self.code).admin_message.format(code=self.code, message=self.message)


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
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RivyaError("protocol_error", f"the field {key!r} is missing or of the wrong type")
    return value


def parse_task(data: Any) -> RemoteTask:
    """Read a task object: unknown fields are ignored, a missing required one is an error."""
    if not isinstance(data, dict):
        raise RivyaError("protocol_error", "a task was not a JSON object")
    result = data.get("result") or {}
    error = data.get("error") or {}
    urls = [u for u in (result.get("urls") or []) if isinstance(u, str)]
    primary = result.get("primary_url")
    if isinstance(primary, str) and primary:
        urls = [primary, *(u for u in urls if u != primary)]
    return RemoteTask(
        id=_require(data, "id", str),
        status=_require(data, "status", str),
        model=str(data.get("model") or ""),
        reserved_credits=int(data.get("reserved_credits") or 0),
        final_credits=int(data.get("final_credits") or 0),
        urls=urls,
        error_code=str(error.get("code") or "") if isinstance(error, dict) else "",
        error_message=str(error.get("message") or "") if isinstance(error, dict) else "",
    )


def _parse_param(raw: Any) -> ModelParam | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    options = tuple(str(o) for o in raw.get("options") or ())
    return ModelParam(
        key=raw["key"],
        type=str(raw.get("type") or "text"),
        default=raw.get("default"),
        options=options,
    )


def parse_model(data: Any) -> ModelInfo:
    if not isinstance(data, dict):
        raise RivyaError("protocol_error", "a model was not a JSON object")
    params = tuple(p for p in map(_parse_param, data.get("params") or ()) if p is not None)
    max_len = data.get("max_prompt_length")
    return ModelInfo(
        id=_require(data, "id", str),
        display_name=str(data.get("display_name") or data["id"]),
        base_credits=int(_require(data, "base_credits", int)),
        max_prompt_length=max_len if isinstance(max_len, int) else None,
        available=data.get("api_status") == "available"
        and data.get("runtime", "async_task") == "async_task",
        params=params,
    )


def _error_from_response(response: httpx.Response) -> RivyaError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error.get("message") or "")
        request_id = str(error.get("requestId") or "")
    except (ValueError, KeyError, TypeError):
        code = "server_error" if response.status_code >= 500 else "protocol_error"
        return RivyaError(
            code,
            f"HTTP {response.status_code} without a readable error body",
            status=response.status_code,
            retry_after=retry_after,
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    retryable = None
    if code not in ERROR_POLICIES and response.status_code >= 500:
        retryable = True  # an unknown code on a 5xx is still the server's trouble
    return RivyaError(
        code,
        message,
        status=response.status_code,
        retry_after=retry_after,
        request_id=request_id,
        retryable=retryable,
    )


class RivyaClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RivyaError("network_error", f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise RivyaError("network_error", type(exc).__name__) from None

    def _json(self, response: httpx.Response, ok: tuple[int, ...] = (200,)) -> Any:
        if response.status_code not in ok:
            raise _error_from_response(response)
        try:
            return response.json()
        except ValueError:
            raise RivyaError("protocol_error", "the answer was not JSON") from None

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
        response = self._request(
            "POST", "/api/v1/generations", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return parse_task(self._json(response, CREATE_OK))

    def get_generation(self, task_id: str) -> RemoteTask:
        response = self._request("GET", f"/api/v1/generations/{task_id}")
        return parse_task(self._json(response))

    def get_credits(self) -> int:
        data = self._json(self._request("GET", "/api/v1/credits"))
        if not isinstance(data, dict):
            raise RivyaError("protocol_error", "credits was not a JSON object")
        return int(_require(data, "current_credits", int))

    def list_models(self) -> list[ModelInfo]:
        data = self._json(self._request("GET", "/api/v1/models"))
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise RivyaError("protocol_error", "the model list had no data array")
        return [parse_model(item) for item in data["data"]]


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
