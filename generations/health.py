"""What the studio knows about Rivya, kept where every process can read it (DESIGN.md rule 10).

Only workers and beat talk to Rivya. What they learn is kept here: the balance (refreshed by beat,
as the model list is in ``catalog``) and how the last calls went (noted by the client on every
call, ``RivyaClient._request``). Each is one :class:`RivyaSnapshot` row, the last good copy that
survives a restart, and the same rows sit for a few seconds in Django's cache, so a page reads
them with one query at most and never waits on Rivya. Pages show what is kept and how old it is.

A note never raises into the call it records: a busy database loses the note, not the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache as remember
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from generations import rivya
from generations.models import UNFINISHED, BalanceReading, Generation, RivyaSnapshot, Status

logger = logging.getLogger(__name__)

MODELS = "models"
BALANCE = "balance"
LAST_SUCCESS = "last_success"
LAST_FAILURE = "last_failure"

ROWS_CACHE_KEY = "rivya:kept"
OUTAGE_CACHE_KEY = "rivya:outage"
# How long a process trusts its cached copy of the rows. The cache is each process's own memory
# (settings configure no shared one), so this is also how late a page may learn what a worker
# noted: a few seconds, against one query per process per period.
READ_SECONDS = 5
# A busy worker calls Rivya many times a second; it writes a success down at most this often.
NOTE_SUCCESS_EVERY = 5.0
# Balance readings are kept this long: a year's usage page can still be compared with Rivya.
READINGS_KEPT_DAYS = 400


@dataclass(frozen=True)
class Kept:
    value: Any
    at: datetime


def kept(key: str) -> Kept | None:
    return _rows().get(key)


def _rows() -> dict[str, Kept]:
    rows: dict[str, Kept] | None = cache.get(ROWS_CACHE_KEY)
    if rows is None:
        rows = {r.key: Kept(r.value, r.fetched_at) for r in RivyaSnapshot.objects.all()}
        cache.set(ROWS_CACHE_KEY, rows, READ_SECONDS)
    return rows


def _kept_row(key: str) -> Kept | None:
    row = RivyaSnapshot.objects.filter(key=key).first()
    return Kept(row.value, row.fetched_at) if row else None


def keep(key: str, value: Any, at: datetime | None = None) -> None:
    """Keep ``value`` under ``key``, unless a newer copy is kept already (another worker's)."""
    at = at or timezone.now()
    try:
        with transaction.atomic():  # a savepoint: a clash cannot spoil a caller's transaction
            newer_or_none = RivyaSnapshot.objects.filter(key=key, fetched_at__lte=at)
            if not newer_or_none.update(value=value, fetched_at=at):
                RivyaSnapshot.objects.create(key=key, value=value, fetched_at=at)
    except IntegrityError:
        pass  # the row exists with a newer copy, or another process just made it: theirs stays
    cache.delete_many([ROWS_CACHE_KEY, OUTAGE_CACHE_KEY])


def is_old(at: datetime) -> bool:
    """Older than two refreshes: a page then says when it was learned."""
    return timezone.now() - at > timedelta(seconds=2 * settings.RIVYA_REFRESH_EVERY_SECONDS)


# -- The balance -----------------------------------------------------------------------------


def refresh_balance() -> bool:
    """Ask Rivya for the account's credits and keep them. On an error the last good copy stays
    (the client has noted the failure). Workers and beat only: a page never calls this."""
    try:
        credits = rivya.get_client().get_credits()
    except rivya.RivyaError as exc:
        logger.warning("Could not read the Rivya balance (%s); keeping the last one", exc.code)
        return False
    now = timezone.now()
    keep(BALANCE, {"credits": credits}, at=now)
    record_reading(credits, now)
    return True


def record_reading(credits: int, at: datetime) -> None:
    """Add a reading to the balance's history and delete those past ``READINGS_KEPT_DAYS``
    (an index range; at one refresh a minute, a few rows each time)."""
    BalanceReading.objects.create(credits=credits, at=at)
    BalanceReading.objects.filter(at__lt=at - timedelta(days=READINGS_KEPT_DAYS)).delete()


def balance(*, fresh: bool = False) -> Kept | None:
    """The last balance Rivya told us (``value`` is the credits), or None if it never did.
    ``fresh`` reads the kept row itself, not this process's copy of a few seconds ago."""
    found = _kept_row(BALANCE) if fresh else kept(BALANCE)
    credits = found.value.get("credits") if found and isinstance(found.value, dict) else None
    if found is None or isinstance(credits, bool) or not isinstance(credits, int):
        return None
    return Kept(credits, found.at)


# -- Notes on every call (RivyaClient._request) ----------------------------------------------

_success_noted_at = 0.0  # time.monotonic() of this process's last written success
_note_lock = threading.Lock()


def note_success() -> None:
    """Rivya answered. Written at most every few seconds per process, so it costs nothing on
    most calls; after a failure the next success is written at once, ending the outage."""
    global _success_noted_at
    now = time.monotonic()
    with _note_lock:
        if now - _success_noted_at < NOTE_SUCCESS_EVERY:
            return
        _success_noted_at = now
    _write_note(lambda: keep(LAST_SUCCESS, {}))


def note_failure(exc: rivya.RivyaError) -> None:
    """A call failed in a way that says Rivya is not working (no answer, a 5xx, a 429)."""
    global _success_noted_at
    with _note_lock:
        _success_noted_at = 0.0
    failure = {
        "code": exc.code,
        "status": exc.status,
        "message": exc.admin_message,
        "request_id": exc.request_id,
    }
    _write_note(lambda: keep(LAST_FAILURE, {**failure, "since": _failing_since().isoformat()}))


def _failing_since() -> datetime:
    """When this run of failures began: the previous failure's start, unless a call succeeded
    after it. One query by key, on a path that has just waited on the network anyway."""
    rows = {r.key: r for r in RivyaSnapshot.objects.filter(key__in=(LAST_SUCCESS, LAST_FAILURE))}
    failure, success = rows.get(LAST_FAILURE), rows.get(LAST_SUCCESS)
    if failure is None:
        return timezone.now()
    since = _since(Kept(failure.value, failure.fetched_at))
    if since is None or (success is not None and success.fetched_at >= failure.fetched_at):
        return timezone.now()
    return since


def _write_note(write: Callable[[], None]) -> None:
    try:
        write()
    except DatabaseError:
        # A locked or unreachable database must not turn Rivya's answer into our failure: this
        # note is lost and the next call writes another. (The cache is each process's local
        # memory, which does not raise.)
        logger.warning("Could not note how a call to Rivya went", exc_info=True)


def _since(failure: Kept) -> datetime | None:
    text = failure.value.get("since") if isinstance(failure.value, dict) else None
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


# -- What pages show -------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    at: datetime
    since: datetime
    code: str
    message: str
    request_id: str

    @classmethod
    def from_kept(cls, found: Kept) -> Failure:
        value = found.value if isinstance(found.value, dict) else {}
        return cls(
            at=found.at,
            since=_since(found) or found.at,
            code=str(value.get("code") or ""),
            message=str(value.get("message") or ""),
            request_id=str(value.get("request_id") or ""),
        )


@dataclass(frozen=True)
class Health:
    """How the last calls went, for the admins' page and the banner."""

    last_success: datetime | None
    last_failure: Failure | None

    @property
    def failing(self) -> bool:
        """The last call failed."""
        failure = self.last_failure
        return failure is not None and (self.last_success is None or failure.at > self.last_success)

    @property
    def since(self) -> datetime | None:
        """When Rivya last worked: the last success, or the start of the failures if none."""
        if not self.failing:
            return None
        return self.last_success or (self.last_failure.since if self.last_failure else None)

    @property
    def down(self) -> bool:
        """Nothing has succeeded for ``RIVYA_DOWN_AFTER_SECONDS`` and the last call failed."""
        since = self.since
        limit = timedelta(seconds=settings.RIVYA_DOWN_AFTER_SECONDS)
        return since is not None and timezone.now() - since >= limit


def health() -> Health:
    success, failure = kept(LAST_SUCCESS), kept(LAST_FAILURE)
    return Health(
        last_success=success.at if success else None,
        last_failure=Failure.from_kept(failure) if failure else None,
    )


_NOT_CACHED = object()


def outage() -> Health | None:
    """Rivya's health when it is down while work waits (the banner shows then), else None.
    Cached for a few seconds; the query for waiting work is made only while Rivya is down."""
    found = cache.get(OUTAGE_CACHE_KEY, _NOT_CACHED)
    if found is None or isinstance(found, Health):
        return found
    now = health()
    waiting = now.down and Generation.objects.filter(status__in=UNFINISHED).exists()
    result = now if waiting else None
    cache.set(OUTAGE_CACHE_KEY, result, READ_SECONDS)
    return result


def context(request: HttpRequest) -> dict[str, object]:
    """The context processor: ``rivya_outage`` for the banner in base.html, worked out only when
    a page shows it (the template calls it)."""
    return {"rivya_outage": remember(outage)}


@dataclass(frozen=True)
class Waiting:
    """A card's generation waiting for Rivya after a try that did not go through."""

    attempt: int
    next_try: datetime | None  # None while the next try is under way
    in_flight: bool


def waiting(generation: Generation) -> Waiting | None:
    """From the row alone: a send put back in the queue, a send tried again, or status checks
    that failed. ``next_check_at`` is when the next try is due."""
    if generation.status == Status.QUEUED and generation.submit_attempts:
        return Waiting(generation.submit_attempts, generation.next_check_at, in_flight=False)
    if generation.status == Status.SENDING and generation.submit_attempts > 1:
        return Waiting(generation.submit_attempts, None, in_flight=True)
    if generation.status == Status.PROCESSING and generation.poll_errors:
        return Waiting(generation.poll_errors, generation.next_check_at, in_flight=False)
    return None
