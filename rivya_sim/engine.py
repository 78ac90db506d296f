"""The simulator's behaviour without HTTP: creating tasks, moving them along, finishing them.

Lifecycle: a task is ``queued`` when created, ``processing`` once ``delay * 0.25`` seconds have
passed, and terminal at ``delay`` seconds (``succeeded``, or ``failed`` in the "fail" mode; the
"never" mode stays ``processing``). ``tick`` is called every ~20 ms by a background thread.

Assumptions where the contract is silent:

- Order of checks on create: validation, then idempotency, then credits. So a replay of a task
  already created is answered even if the balance has since fallen below the model's cost.
- ``insufficient_credits`` is HTTP 402 and synchronous (no task, nothing reserved).
- A replay answers the stored response of the original create (status code and body as first
  sent, so ``status`` is still ``queued``), as the contract's section 8 suggests.
- Credits are reserved at create; a success settles ``final_credits = reserved_credits``; a
  failure sets ``final_credits = 0`` and refunds the reservation at once.
- Task ids are ``task_`` + 24 hex digits. A task with no seed gets a random one, kept internally,
  so its picture stays the same on every download.
- Result URLs are ``<base_url>/results/<task_id>/<n>.png`` with ``n`` counting from 1.
- Markers in the prompt (``[sim:fail]``, ``[sim:delay=0.5]``...) override ``faults.result_mode``
  and the delay for that task; the last mode marker wins; an unknown marker is ignored. The task's
  delay is, in order: the marker, ``faults.delay``, the simulator's ``delay``.
- ``finish_task`` (and ``POST /_sim/tasks/<id>/finish``) ends any unfinished task at once, passing
  through ``processing``; a task in the "fail"/"never" mode forced to succeed gets an ordinary
  picture.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from typing import Any

from standardwebhooks import Webhook

from rivya_sim.faults import RESULT_MODES, Faults
from rivya_sim.images import ImageCache
from rivya_sim.responses import ApiError
from rivya_sim.state import IdempotencyEntry, State, Task
from rivya_sim.validation import GenerationRequest
from rivya_sim.webhooks import WebhookSender, make_delivery

PROCESSING_AT = 0.25
GENERATION_FAILED = {"code": "generation_failed", "message": "The generation failed."}
FOREIGN_URLS = {"private_url": "http://10.0.0.1/x.png", "http_url": "http://example.com/x.png"}
_MARKER = re.compile(r"\[sim:([a-z_]+)(?:=([0-9]+(?:\.[0-9]+)?))?\]")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def prompt_overrides(prompt: str) -> tuple[str | None, float | None]:
    """The result mode and the delay that markers in the prompt ask for, if any."""
    mode: str | None = None
    delay: float | None = None
    for name, value in _MARKER.findall(prompt):
        if name == "delay" and value:
            delay = float(value)
        elif name in RESULT_MODES:
            mode = name
    return mode, delay


class Engine:
    """Tasks, credits, faults and webhooks: everything but the HTTP server."""

    def __init__(
        self,
        api_key: str,
        delay: float,
        initial_credits: int,
        create_status: int,
    ) -> None:
        self.api_key = api_key
        self.delay = delay
        self.create_status = create_status
        self.base_url = ""
        self.state = State(initial_credits)
        self.faults = Faults()
        self.images = ImageCache()
        self.webhooks = WebhookSender(self.state)
        self.stop_event = threading.Event()
        self._webhook_target: tuple[str, str] | None = None

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the simulator stops first; True if the full time passed."""
        return seconds <= 0 or not self.stop_event.wait(seconds)

    def reset(self) -> None:
        """Forget every task and counter and switch the faults off (configuration stays)."""
        self.faults.reset()
        self.state.reset()

    # Webhook target ---------------------------------------------------------------------------

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        """Send webhooks to ``url`` signed with ``secret`` (``whsec_...``); None turns them off."""
        if not url:
            self._webhook_target = None
            return
        if not secret:
            raise ValueError("a webhook secret (whsec_...) is required with a webhook URL")
        try:
            Webhook(secret)
        except Exception as exc:
            raise ValueError(f"the webhook secret is not valid: {exc}") from exc
        self._webhook_target = (url, secret)

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_target[0] if self._webhook_target else None

    # Creating ---------------------------------------------------------------------------------

    def create(
        self, api_key: str, idempotency_key: str | None, request: GenerationRequest
    ) -> tuple[int, dict[str, Any]]:
        """Create a task (or replay one); return the HTTP status and the task object."""
        now = time.time()
        canonical = canonical_json(request.body)
        with self.state.lock:
            if idempotency_key:
                replay = self._replay(api_key, idempotency_key, canonical, now)
                if replay is not None:
                    return replay
            self._check_credits(request.spec.base_credits)
            task = self._new_task(request, idempotency_key, now)
            self.state.add_task(task)
            response = task.public()
            if idempotency_key:
                entry = IdempotencyEntry(canonical, task.id, self.create_status, response, now)
                self.state.remember(api_key, idempotency_key, entry)
            return self.create_status, response

    def _replay(
        self, api_key: str, key: str, canonical: str, now: float
    ) -> tuple[int, dict[str, Any]] | None:
        entry = self.state.find_idempotent(api_key, key, now)
        if entry is None:
            return None
        if entry.canonical_body != canonical:
            raise ApiError(
                409,
                "idempotency_conflict",
                "This Idempotency-Key was already used with a different request body.",
            )
        return entry.status_code, dict(entry.response)

    def _check_credits(self, cost: int) -> None:
        balance = self.state.credits_current
        if balance < cost:
            raise ApiError(
                402,
                "insufficient_credits",
                f"This generation needs {cost} credits; the account has {balance}.",
            )

    def _new_task(
        self, request: GenerationRequest, idempotency_key: str | None, now: float
    ) -> Task:
        marker_mode, marker_delay = prompt_overrides(request.prompt)
        delay = marker_delay if marker_delay is not None else self.faults.delay
        return Task(
            id="task_" + secrets.token_hex(12),
            model=request.spec.id,
            reserved_credits=request.spec.base_credits,
            created_at=now,
            prompt=request.prompt,
            params=request.params,
            aspect=request.aspect,
            render_seed=request.seed or str(random.randrange(2**32)),
            result_mode=marker_mode or self.faults.result_mode,
            delay=self.delay if delay is None else delay,
            body=request.body,
            idempotency_key=idempotency_key,
            client_request_id=request.client_request_id,
        )

    # Moving -----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Move every unfinished task whose time has come; announce the finished ones."""
        now = time.time()
        finished: list[dict[str, Any]] = []
        with self.state.lock:
            for task in self.state.open_tasks():
                if self._advance(task, now):
                    finished.append(task.public())
        for task_object in finished:
            self._announce(task_object)

    def _advance(self, task: Task, now: float) -> bool:
        """Move one task as far as its clock allows; True if it just finished."""
        if task.status == "queued" and now >= task.created_at + task.delay * PROCESSING_AT:
            self._start_processing(task, now)
        due = now >= task.created_at + task.delay
        if task.status == "processing" and due and task.result_mode != "never":
            self._finish(task, "failed" if task.result_mode == "fail" else "succeeded", now)
            return True
        return False

    def finish_task(self, task_id: str, status: str) -> dict[str, Any]:
        """End an unfinished task now. Raises KeyError (unknown id) or ValueError."""
        if status not in ("succeeded", "failed"):
            raise ValueError("status must be succeeded or failed")
        with self.state.lock:
            task = self.state.task(task_id)
            if task is None:
                raise KeyError(task_id)
            if task.terminal:
                raise ValueError(f"task {task_id} has already {task.status}")
            now = time.time()
            if task.status == "queued":
                self._start_processing(task, now)
            self._finish(task, status, now)
            task_object = task.public()
        self._announce(task_object)
        return task_object

    def _start_processing(self, task: Task, now: float) -> None:
        task.status = "processing"
        task.processing_at = now
        task.touch(now)

    def _finish(self, task: Task, status: str, now: float) -> None:
        if status == "succeeded":
            task.result = self._result_for(task)
            task.final_credits = task.reserved_credits
            task.succeeded_at = now
        else:
            task.error = dict(GENERATION_FAILED)
            task.final_credits = 0
            task.failed_at = now
        task.status = status
        task.finished_at = now
        task.touch(now)
        self.state.close_task(task)

    def _result_for(self, task: Task) -> dict[str, Any]:
        if task.result_mode in FOREIGN_URLS:
            urls = [FOREIGN_URLS[task.result_mode]]
        else:
            count = 2 if task.result_mode == "multi" else 1
            urls = [f"{self.base_url}/results/{task.id}/{n}.png" for n in range(1, count + 1)]
        return {"primary_url": urls[0], "urls": urls}

    def _announce(self, task_object: dict[str, Any]) -> None:
        target = self._webhook_target
        mode = self.faults.webhook_mode
        if target is None or mode == "none":
            return
        self.webhooks.submit(make_delivery(task_object, target[0], target[1], mode))
