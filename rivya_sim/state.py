"""The simulator's record: tasks, counters, credits, idempotency keys and webhook deliveries.

Everything here is guarded by ``State.lock`` (re-entrant); the engine holds it while it moves
tasks, so a reader never sees half a transition. ``tasks`` returns a copy of the mapping; each
``Task`` may be read by attribute (``task.status``) or by key (``task["status"]``).

Assumptions where the contract is silent:

- Timestamps are ISO-8601 UTC with milliseconds and ``Z``; ``updated_at`` moves forward by at
  least one millisecond on every transition, so two transitions never share a value.
- Idempotency keys are scoped per API key and kept 24 hours; bodies are compared as canonical
  JSON (sorted keys, no spaces). Only successful creates are remembered: a request refused with
  an error can be retried with the same key.
- ``credits_charged`` is the sum of ``final_credits`` of finished tasks; ``credits_reserved_open``
  the sum of ``reserved_credits`` of unfinished ones.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL_STATUSES = ("succeeded", "failed")
IDEMPOTENCY_TTL_SECONDS = 24 * 3600.0


def iso_ms(timestamp: float) -> str:
    """``2026-05-10T00:00:00.000Z`` for a ``time.time()`` value."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Task:
    """A generation task: the public fields plus the simulator's own bookkeeping."""

    id: str
    model: str
    reserved_credits: int
    created_at: float
    prompt: str
    params: dict[str, Any]
    aspect: str
    render_seed: str
    result_mode: str
    delay: float
    body: dict[str, Any]
    idempotency_key: str | None = None
    client_request_id: str | None = None
    status: str = "queued"
    final_credits: int = 0
    updated_at: float = 0.0
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    processing_at: float | None = None
    succeeded_at: float | None = None
    failed_at: float | None = None
    finished_at: float | None = None

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def touch(self, now: float) -> None:
        """Move ``updated_at`` forward, by at least one millisecond."""
        self.updated_at = max(now, self.updated_at + 0.001)

    def public(self) -> dict[str, Any]:
        """The task object of the public API (contract section 4)."""
        return {
            "id": self.id,
            "status": self.status,
            "model": self.model,
            "reserved_credits": self.reserved_credits,
            "final_credits": self.final_credits,
            "created_at": iso_ms(self.created_at),
            "updated_at": iso_ms(self.updated_at),
            "result": _copy_result(self.result),
            "error": dict(self.error) if self.error else None,
        }

    def record(self) -> dict[str, Any]:
        """Every field, floats for times, plus the public object under ``object``."""
        return {**asdict(self), "object": self.public()}

    def __getitem__(self, key: str) -> Any:
        return self.record()[key]


def _copy_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"primary_url": result["primary_url"], "urls": list(result["urls"])}


@dataclass(frozen=True)
class IdempotencyEntry:
    """A remembered successful create: the body it answered and what it answered."""

    canonical_body: str
    task_id: str
    status_code: int
    response: dict[str, Any]
    stored_at: float


@dataclass(frozen=True)
class WebhookRecord:
    """One delivery attempt: ``status_code`` when the receiver answered, else ``error``."""

    event_id: str
    type: str
    task_id: str
    attempt: int
    mode: str
    url: str
    sent_at: float
    status_code: int | None = None
    error: str | None = None


@dataclass
class _Counters:
    creates_total: int = 0
    create_requests: int = 0
    get_requests: int = 0
    connections_opened: int = 0
    api_paths: dict[str, int] = field(default_factory=dict)


@dataclass
class _Store:
    tasks: dict[str, Task] = field(default_factory=dict)
    open_ids: set[str] = field(default_factory=set)
    idempotency: dict[tuple[str, str], IdempotencyEntry] = field(default_factory=dict)
    webhooks: list[WebhookRecord] = field(default_factory=list)


class State:
    """The thread-safe record of what the simulator did."""

    def __init__(self, initial_credits: int) -> None:
        self.lock = threading.RLock()
        self.initial_credits = initial_credits
        self.credits_current = initial_credits
        self._counters = _Counters()
        self._store = _Store()

    # Counters -------------------------------------------------------------------------------

    @property
    def creates_total(self) -> int:
        """Tasks actually created (idempotent replays excluded)."""
        return self._counters.creates_total

    @property
    def create_requests(self) -> int:
        """``POST /api/v1/generations`` requests received, faulted ones included."""
        return self._counters.create_requests

    @property
    def get_requests(self) -> int:
        """``GET /api/v1/generations/{id}`` requests received, faulted ones included."""
        return self._counters.get_requests

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted by the server."""
        return self._counters.connections_opened

    @property
    def api_paths(self) -> dict[str, int]:
        """``"METHOD /path"`` of every ``/api/v1/`` request received, with how many times."""
        with self.lock:
            return dict(self._counters.api_paths)

    def count_path(self, method: str, path: str) -> None:
        with self.lock:
            key = f"{method} {path}"
            self._counters.api_paths[key] = self._counters.api_paths.get(key, 0) + 1

    def count(self, counter: str) -> None:
        """Add one to ``create_requests``, ``get_requests`` or ``connections_opened``."""
        with self.lock:
            setattr(self._counters, counter, getattr(self._counters, counter) + 1)

    # Credits ----------------------------------------------------------------------------------

    def set_credits(self, credits: int) -> None:
        with self.lock:
            self.credits_current = credits

    @property
    def credits_charged(self) -> int:
        with self.lock:
            return sum(t.final_credits for t in self._store.tasks.values() if t.terminal)

    @property
    def credits_reserved_open(self) -> int:
        with self.lock:
            return sum(self._store.tasks[i].reserved_credits for i in self._store.open_ids)

    # Tasks ------------------------------------------------------------------------------------

    @property
    def tasks(self) -> dict[str, Task]:
        """A copy of the id → task mapping (the tasks themselves are live)."""
        with self.lock:
            return dict(self._store.tasks)

    def task(self, task_id: str) -> Task | None:
        with self.lock:
            return self._store.tasks.get(task_id)

    def tasks_by_key(self, idempotency_key: str) -> list[Task]:
        """Every task created with this ``Idempotency-Key``, oldest first."""
        with self.lock:
            return [t for t in self._store.tasks.values() if t.idempotency_key == idempotency_key]

    def open_tasks(self) -> list[Task]:
        with self.lock:
            return [self._store.tasks[i] for i in self._store.open_ids]

    def add_task(self, task: Task) -> None:
        """Store a new task and reserve its credits."""
        with self.lock:
            self._store.tasks[task.id] = task
            self._store.open_ids.add(task.id)
            self.credits_current -= task.reserved_credits
            self._counters.creates_total += 1

    def close_task(self, task: Task) -> None:
        """Drop a finished task from the open set; refund it if it failed."""
        with self.lock:
            self._store.open_ids.discard(task.id)
            if task.status == "failed":
                self.credits_current += task.reserved_credits

    # Idempotency ------------------------------------------------------------------------------

    def find_idempotent(self, api_key: str, key: str, now: float) -> IdempotencyEntry | None:
        """The live entry for this key, forgetting it once 24 hours old."""
        with self.lock:
            entry = self._store.idempotency.get((api_key, key))
            if entry is not None and now - entry.stored_at > IDEMPOTENCY_TTL_SECONDS:
                del self._store.idempotency[(api_key, key)]
                return None
            return entry

    def remember(self, api_key: str, key: str, entry: IdempotencyEntry) -> None:
        with self.lock:
            self._store.idempotency[(api_key, key)] = entry

    # Webhooks ---------------------------------------------------------------------------------

    def add_webhook(self, record: WebhookRecord) -> None:
        with self.lock:
            self._store.webhooks.append(record)

    @property
    def webhooks_sent(self) -> list[WebhookRecord]:
        with self.lock:
            return list(self._store.webhooks)

    # Whole record -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and restore the initial balance."""
        with self.lock:
            self.credits_current = self.initial_credits
            self._counters = _Counters()
            self._store = _Store()

    def snapshot(self) -> dict[str, Any]:
        """The whole record as JSON-ready data (``GET /_sim/state``)."""
        with self.lock:
            return {
                "tasks": {i: t.record() for i, t in self._store.tasks.items()},
                **asdict(self._counters),
                "credits_current": self.credits_current,
                "credits_charged": self.credits_charged,
                "credits_reserved_open": self.credits_reserved_open,
                "webhooks_sent": [asdict(w) for w in self._store.webhooks],
            }
