"""Run-time fault switches of the simulator (``sim.faults`` and ``POST /_sim/faults``).

Counted faults fire on "the next N requests" that match their ``on`` target and then switch
themselves off. Targets: ``create`` is ``POST /api/v1/generations``, ``get`` is
``GET /api/v1/generations/{id}``, ``any`` is every request under ``/api/v1/`` (result downloads
and ``/_sim/`` are never faulted this way).

Assumptions where the brief is silent:

- A negative count means "until switched off"; a count of 0 switches the fault off.
- ``on`` defaults to ``any`` for every counted fault.
- When several counted faults are armed, one request triggers at most one of them, checked in
  the order timeout, non_json, odd_answer, server_error, public_api_disabled, rate_limit; the
  others keep their counts for later requests.
- ``odd_answer`` sends exactly the status, headers and body it was given (a body as text, sent
  as UTF-8; header values in Latin-1 without line breaks, as HTTP/1.1 can carry them); its
  status is 200 to 599, so it can also play a success whose body is odd.
- ``drop_after_create`` counts successful create responses, replays of an idempotent create
  included, so ``count=2`` also swallows the first retry.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

Target = Literal["create", "get", "any"]
Endpoint = Literal["create", "get", "other"]

RESULT_MODES = (
    "ok", "fail", "never", "huge", "drip", "lie_length", "html", "svg", "bomb",
    "redirect", "redirect_private", "private_url", "http_url", "multi", "hang",
)  # fmt: skip
WEBHOOK_MODES = ("good", "bad_signature", "stale_timestamp", "replay", "none")

# The order in which armed request faults are checked; the first match wins.
REQUEST_FAULTS = (
    "timeout", "non_json", "odd_answer", "server_error", "public_api_disabled", "rate_limit",
)  # fmt: skip
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token
# The simulator writes these itself (odd_answer's content_type sets the type); set twice, they
# would break the connection rather than play an odd answer.
FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "content-type"}


@dataclass
class Counted:
    """A fault that fires on the next ``count`` matching requests."""

    count: int = 1
    on: Target = "any"

    def matches(self, endpoint: Endpoint) -> bool:
        return self.count != 0 and self.on in ("any", endpoint)

    def consume(self) -> None:
        if self.count > 0:
            self.count -= 1


@dataclass
class RateLimit(Counted):
    retry_after: int = 7
    retry_after_http_date: bool = False


@dataclass
class ServerError(Counted):
    status: int = 500


@dataclass
class Timeout(Counted):
    seconds: float = 30.0


@dataclass
class OddAnswer(Counted):
    """Any answer at all: what a proxy, a half-deployed Rivya or a broken cache might send."""

    status: int = 503
    body: str = '{"error": "Service Unavailable"}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


_KINDS: dict[str, type[Counted]] = {
    "rate_limit": RateLimit,
    "server_error": ServerError,
    "non_json": Counted,
    "timeout": Timeout,
    "odd_answer": OddAnswer,
    "public_api_disabled": Counted,
    "drop_after_create": Counted,
}

_SET_KEYS = ("revoked_keys", "expired_keys", "unavailable_models", "removed_models")


class Faults:
    """Thread-safe fault switches. Plain attributes may be assigned directly at run time."""

    latency: float
    scope_denied: bool
    delay: float | None
    revoked_keys: set[str]
    expired_keys: set[str]
    unavailable_models: set[str]
    removed_models: set[str]
    _result_mode: str
    _webhook_mode: str

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted: dict[str, Counted] = {}
        self.reset()

    def reset(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._counted = {}
            self.latency = 0.0
            self.scope_denied = False
            self.delay = None
            self.revoked_keys = set()
            self.expired_keys = set()
            self.unavailable_models = set()
            self.removed_models = set()
            self._result_mode = "ok"
            self._webhook_mode = "good"

    @property
    def result_mode(self) -> str:
        return self._result_mode

    @result_mode.setter
    def result_mode(self, mode: str) -> None:
        self._result_mode = _choice("result_mode", mode, RESULT_MODES)

    @property
    def webhook_mode(self) -> str:
        return self._webhook_mode

    @webhook_mode.setter
    def webhook_mode(self, mode: str) -> None:
        self._webhook_mode = _choice("webhook_mode", mode, WEBHOOK_MODES)

    def rate_limit(
        self,
        count: int = 1,
        retry_after: int = 7,
        on: Target = "any",
        retry_after_http_date: bool = False,
    ) -> None:
        """Answer 429 rate_limited with ``Retry-After`` on the next ``count`` requests."""
        self._arm("rate_limit", RateLimit(count, on, retry_after, retry_after_http_date))

    def server_error(self, count: int = 1, status: int = 500, on: Target = "any") -> None:
        """Answer ``status`` (5xx) with code internal_error on the next ``count`` requests."""
        if not 500 <= status <= 599:
            raise ValueError("server_error.status must be between 500 and 599")
        self._arm("server_error", ServerError(count, on, status))

    def non_json(self, count: int = 1, on: Target = "any") -> None:
        """Answer 502 with an HTML body on the next ``count`` requests."""
        self._arm("non_json", Counted(count, on))

    def timeout(self, count: int = 1, seconds: float = 30.0, on: Target = "any") -> None:
        """Sleep ``seconds`` then close the connection without answering."""
        self._arm("timeout", Timeout(count, on, seconds))

    def odd_answer(
        self,
        count: int = 1,
        status: int = 503,
        body: str = '{"error": "Service Unavailable"}',
        on: Target = "any",
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer exactly ``status``, ``headers`` and ``body`` on the next ``count`` requests."""
        fault = OddAnswer(count, on, status, body, content_type, dict(headers or {}))
        _check_counted("odd_answer", fault)
        self._arm("odd_answer", fault)

    def public_api_disabled(self, count: int = 1, on: Target = "any") -> None:
        """Answer 503 public_api_disabled on the next ``count`` requests."""
        self._arm("public_api_disabled", Counted(count, on))

    def drop_after_create(self, count: int = 1) -> None:
        """Create the task, then close the connection instead of answering."""
        self._arm("drop_after_create", Counted(count, "create"))

    def take_request_fault(self, endpoint: Endpoint) -> tuple[str, Counted] | None:
        """Consume and return the first armed fault matching this request, if any."""
        with self._lock:
            for kind in REQUEST_FAULTS:
                fault = self._counted.get(kind)
                if fault is not None and fault.matches(endpoint):
                    fault.consume()
                    return kind, replace(fault)
        return None

    def take_drop_after_create(self) -> bool:
        """Consume one ``drop_after_create`` if armed."""
        with self._lock:
            fault = self._counted.get("drop_after_create")
            if fault is None or not fault.matches("create"):
                return False
            fault.consume()
            return True

    def apply(self, changes: Mapping[str, Any]) -> None:
        """Apply a JSON object of changes (the body of ``POST /_sim/faults``).

        Raises ``ValueError`` naming the bad key; keys before it are already applied.
        """
        for key, value in changes.items():
            self._apply_one(key, value)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of every switch."""
        with self._lock:
            counted = {kind: asdict(fault) for kind, fault in self._counted.items() if fault.count}
        return {
            "latency": self.latency,
            "scope_denied": self.scope_denied,
            "delay": self.delay,
            "result_mode": self.result_mode,
            "webhook_mode": self.webhook_mode,
            **{key: sorted(getattr(self, key)) for key in _SET_KEYS},
            **counted,
        }

    def _arm(self, kind: str, fault: Counted) -> None:
        if fault.on not in get_args(Target):
            raise ValueError(f"{kind}.on must be one of create, get, any")
        with self._lock:
            self._counted[kind] = fault

    def _apply_one(self, key: str, value: Any) -> None:
        if key in _KINDS:
            self._arm(key, _parse_counted(key, value))
        elif key in _SET_KEYS:
            setattr(self, key, _parse_str_set(key, value))
        elif key in ("latency", "delay"):
            setattr(self, key, _parse_seconds(key, value, allow_none=key == "delay"))
        elif key == "scope_denied":
            self.scope_denied = _parse_bool(key, value)
        elif key in ("result_mode", "webhook_mode"):
            setattr(self, key, value)
        else:
            raise ValueError(f"unknown fault {key!r}")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    return value


def _parse_counted(kind: str, value: Any) -> Counted:
    """Build a counted fault from an int (the count) or an object of its fields."""
    if isinstance(value, bool) or not isinstance(value, int | dict):
        raise ValueError(f"{kind} must be a count or an object")
    fields: dict[str, Any] = {"count": value} if isinstance(value, int) else dict(value)
    if kind == "drop_after_create":
        fields.setdefault("on", "create")
    try:
        fault = _KINDS[kind](**fields)
    except TypeError as exc:
        raise ValueError(f"{kind}: {exc}") from exc
    _check_counted(kind, fault)
    return fault


def _check_counted(kind: str, fault: Counted) -> None:
    if isinstance(fault.count, bool) or not isinstance(fault.count, int):
        raise ValueError(f"{kind}.count must be an integer")
    if isinstance(fault, ServerError) and not 500 <= fault.status <= 599:
        raise ValueError(f"{kind}.status must be between 500 and 599")
    if isinstance(fault, RateLimit) and not isinstance(fault.retry_after, int):
        raise ValueError(f"{kind}.retry_after must be an integer number of seconds")
    if isinstance(fault, Timeout):
        _parse_seconds(f"{kind}.seconds", fault.seconds, allow_none=False)
    if isinstance(fault, OddAnswer):
        _check_odd_answer(kind, fault)


def _check_odd_answer(kind: str, fault: OddAnswer) -> None:
    if isinstance(fault.status, bool) or not isinstance(fault.status, int):
        raise ValueError(f"{kind}.status must be an integer")
    if not 200 <= fault.status <= 599:
        raise ValueError(f"{kind}.status must be between 200 and 599")
    if not isinstance(fault.body, str):
        raise ValueError(f"{kind}.body must be text")
    if not isinstance(fault.headers, dict):
        raise ValueError(f"{kind}.headers must be an object of names to values")
    for value in (fault.content_type, *fault.headers.values()):
        _check_header_value(kind, value)
    if not all(isinstance(name, str) and HEADER_NAME.fullmatch(name) for name in fault.headers):
        raise ValueError(f"{kind}.headers has a name that is not an HTTP token")
    if {name.lower() for name in fault.headers} & FRAMING_HEADERS:
        raise ValueError(f"{kind}.headers may not set {', '.join(sorted(FRAMING_HEADERS))}")


def _check_header_value(kind: str, value: object) -> None:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ValueError(f"{kind}: a header value must be text on one line")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{kind}: a header value must be Latin-1 text") from None


def _parse_str_set(key: str, value: Any) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings")
    return set(value)


def _parse_seconds(key: str, value: Any, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number of seconds")
    return float(value)


def _parse_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value
