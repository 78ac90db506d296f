"""The life of a generation, step by step. Celery tasks call these functions and nothing else.

Three fields of the row, each with one meaning: ``next_check_at`` is the schedule (when a worker
should look again), ``lease_until`` the lease (a worker holds the row until then) and
``lease_token`` the claim (new at every claim). Every step first claims the row with one
conditional update (``filter(pk=…, status=…, <due and free>).update(lease_until=…,
lease_token=…)``); if no row changed, the row is not the step's to take and it returns quietly.
Every later write of the step is conditional on the row still carrying the step's token and
status (:func:`_held`), so a worker whose lease was taken over changes nothing. Each step returns
what should happen next (a :class:`Next`) and the task schedules it; no step sleeps.

The reconciler re-enqueues rows whose schedule is overdue and whose lease is free (or ran out:
a worker killed mid-step is replaced). Celery's time limits do not apply to the threads pool, so
each step keeps its own deadline: a call to Rivya ends within ``RIVYA_TOTAL_TIMEOUT`` (the
client's deadline) and a result's downloads within ``RESULT_DEADLINE_SECONDS`` together; the
lease (:func:`lease_length`) outlasts the longest step.
"""

from __future__ import annotations

import io
import logging
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop
from PIL import Image

from generations import catalog, credits
from generations.downloader import FetchedImage, UnsafeResult, fetch_result
from generations.errors import (
    ADMIN_CODES,
    ASKED_TO_WAIT,
    CANCELLED,
    ERROR_POLICIES,
    INTERNAL_ERROR,
    MEMBER_ENDINGS,
    NO_PROPER_ANSWER,
    SAVING,
    SLOW_TO_ANSWER,
    STOPPED_WAITING,
    TIME_IS_UP,
    policy_for,
    refused_result,
)
from generations.forms import MAX_SEED
from generations.models import UNFINISHED, Generation, GenerationImage, Status
from generations.rivya import (
    FAILED,
    SUCCEEDED,
    ModelInfo,
    RemoteTask,
    RivyaError,
    get_client,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)  # how long a claimed step may take before others may redo it
STEP_MARGIN_SECONDS = 30.0  # past the deadlines of a step's calls: the database, the thumbnails
SLACK = timedelta(seconds=1)  # a scheduled task may wake this much early
RECONCILE_GRACE = timedelta(seconds=10)  # how late a check must be before the reconciler steps in
TIMED_OUT = "timed_out"
LOST_CONTACT = "lost_contact"
RESULT_REFUSED = "result_unsafe"
# Failures Rivya may still finish: we keep looking, and a late result is recorded once. A
# member who stopped waiting is one of them: Rivya has no cancel.
LATE_CODES = (TIMED_OUT, LOST_CONTACT, STOPPED_WAITING)
LATE_CHECK_EVERY = timedelta(minutes=10)
LATE_WINDOW = timedelta(hours=24)
# Rivya accepted it: we know its remote task.
ACCEPTED = Q(remote_task_id__isnull=False) & ~Q(remote_task_id="")


@dataclass(frozen=True)
class Next:
    """What the task should enqueue after a step: ``submit`` or ``poll``, after ``delay`` s."""

    step: str
    delay: float


def poll_delay(age_seconds: float) -> float:
    """2-2.5 s for the first 30 s, then 5-10 s with jitter, then 15-30 s for old jobs."""
    if age_seconds < 30:
        return random.uniform(2.0, 2.5)
    if age_seconds < 300:
        return random.uniform(5.0, 10.0)
    return random.uniform(15.0, 30.0)


def backoff(attempt: int) -> float:
    """Jittered exponential backoff: about 2, 4, 8 … seconds, at most a minute."""
    return float(min(60, 2 ** max(1, attempt))) * random.uniform(0.5, 1.0)


def _age(generation: Generation) -> float:
    return (timezone.now() - generation.created_at).total_seconds()


def _past_budget(generation: Generation) -> bool:
    return _age(generation) > settings.GENERATION_TIME_BUDGET_SECONDS


# -- Claiming --------------------------------------------------------------------------------


def lease_length() -> timedelta:
    """How long a claimed step holds the row: longer than the longest step, so no live worker
    is overtaken. That step makes two calls, each within its own deadline (the model list and
    the create; or the status check and the result's downloads), then saves what it got. With
    the default deadlines this is :data:`LEASE`; longer deadlines make a longer lease."""
    api = settings.RIVYA_TOTAL_TIMEOUT
    longest = api + max(api, settings.RESULT_DEADLINE_SECONDS) + STEP_MARGIN_SECONDS
    return max(LEASE, timedelta(seconds=longest))


def _due(now: datetime) -> Q:
    """The schedule says look now."""
    return Q(next_check_at__lte=now + SLACK)


def _free(now: datetime) -> Q:
    """No worker holds the row, or its lease ran out."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _claim(generation_id: int, claimable: Q, **changes: Any) -> Generation | None:
    """Take the row's lease if ``claimable`` holds for it, making ``changes`` in the same
    update. Returns the row as claimed (it carries the new token), or None if it is not ours."""
    token = uuid.uuid4()
    claimed = Generation.objects.filter(claimable, pk=generation_id).update(
        lease_until=timezone.now() + lease_length(), lease_token=token, **changes
    )
    if not claimed:
        return None
    return Generation.objects.filter(pk=generation_id, lease_token=token).first()


def _held(generation: Generation) -> QuerySet[Generation]:
    """The row, if the step that claimed ``generation`` still holds it: the same token, and the
    status the step left it in."""
    return Generation.objects.filter(
        pk=generation.pk, lease_token=generation.lease_token, status=generation.status
    )


def _release(generation: Generation, **changes: Any) -> bool:
    """Write a step's outcome and give its lease up, if the step still holds the row."""
    return bool(_held(generation).update(lease_until=None, **changes))


def _log_refusal(what: str, generation: Generation, exc: RivyaError) -> None:
    """Every refusal, with Rivya's request id: their support asks for it."""
    logger.warning(
        "%s for generation %s got %s (Rivya request id: %s)",
        what,
        generation.pk,
        exc.code,
        exc.request_id or "none sent",
    )


def _admin_words(exc: RivyaError) -> str:
    """The admin's message for a refusal, with Rivya's request id when it sent one."""
    if exc.request_id:
        return f"{exc.admin_message} (Rivya request id: {exc.request_id})"
    return exc.admin_message


# -- Creating -------------------------------------------------------------------------------


def create(
    user: AbstractBaseUser,
    *,
    form_token: uuid.UUID,
    model: ModelInfo,
    prompt: str,
    aspect_ratio: str,
    negative_prompt: str = "",
    seed: int | None = None,
    count: int = 1,
) -> tuple[Generation, bool]:
    """Save a request of ``count`` images and reserve all their credits in one transaction;
    nothing is sent yet. Each image is its own generation (its own key, reservation and
    lifecycle): the first is the request's lead, the others point at it. A seed left empty is
    chosen here for each image (:func:`pick_seed`), so every image can be made again; a seed
    given is the first image's, and image n gets seed + n - 1 (:func:`batch_seeds`).
    Returns ``(lead, created)``: a form sent twice gives back the first request's lead.
    Raises :class:`credits.OverBudget` (and saves nothing) when the member's budget is short
    of the whole request."""
    first = Generation.objects.filter(user_id=user.pk, form_token=form_token, batch_position=0)
    existing = first.first()
    if existing is not None:
        return existing, False
    fields = {
        "user_id": user.pk,
        "form_token": form_token,
        "model": model.id,
        "prompt": prompt,
        "aspect_ratio": aspect_ratio,
        "negative_prompt": negative_prompt,
        "credits_reserved": model.base_credits,
    }
    try:
        with transaction.atomic():
            rows = _save_batch(fields, batch_seeds(model, seed, count))
            credits.reserve(rows)
    except IntegrityError:
        # The same form arrived twice at once and the other request saved it first.
        return first.get(), False
    return rows[0], True


def _save_batch(fields: dict[str, Any], seeds: list[tuple[int | None, bool]]) -> list[Generation]:
    """One row per seed, the lead first, all due now."""
    rows: list[Generation] = []
    for position, (seed, seed_picked) in enumerate(seeds):
        rows.append(
            Generation.objects.create(
                **fields,
                seed=seed,
                seed_picked=seed_picked,
                batch_lead=rows[0] if rows else None,
                batch_position=position,
                next_check_at=timezone.now(),
            )
        )
    return rows


def batch_seeds(model: ModelInfo, seed: int | None, count: int) -> list[tuple[int | None, bool]]:
    """The seed of each image of a request, and whether the studio picked it. The member's own
    seed is the first image's and the next images take the numbers after it (wrapping past
    :data:`MAX_SEED`), so the images differ and reusing the request makes them again; an empty
    seed is picked anew for each image."""
    if seed is None:
        return [pick_seed(model, None) for _ in range(count)]
    return [pick_seed(model, (seed + n) % (MAX_SEED + 1)) for n in range(count)]


def pick_seed(model: ModelInfo, seed: int | None) -> tuple[int | None, bool]:
    """The seed to send and whether the studio picked it: the member's own, or for an empty one
    a random seed of the studio's (any number the form would take), so the image can be made
    again. A model that takes no seed gets none."""
    if seed is not None or model.param("seed") is None:
        return seed, False
    return secrets.randbelow(MAX_SEED + 1), True


# -- Failing ---------------------------------------------------------------------------------


def fail(
    generation: Generation,
    code: str,
    member_message: str,
    admin_message: str = "",
    *,
    charged: int | None = None,
) -> bool:
    """End an unfinished generation as failed and settle its credits (release, or the charge
    Rivya made when ``charged`` is given). Returns False if it had finished already, or if
    another worker has claimed it since ``generation`` was read.
    For the :data:`LATE_CODES` the reconciler keeps looking now and then, for a late result."""
    look_later = code in LATE_CODES and bool(generation.remote_task_id)
    # The state change and its settlement commit together: a crash between them would leave
    # a finished row whose credits were never settled.
    with transaction.atomic():
        changed = Generation.objects.filter(
            pk=generation.pk, status__in=UNFINISHED, lease_token=generation.lease_token
        ).update(
            status=Status.FAILED,
            error_code=code,
            error_message=member_message,
            admin_message=admin_message,
            status_note="",
            finished_at=timezone.now(),
            next_check_at=timezone.now() + LATE_CHECK_EVERY if look_later else None,
            lease_until=None,
            credits_final=charged or 0,
        )
        if not changed:
            return False
        if code in ADMIN_CODES:
            logger.error("Generation %s needs an admin: %s", generation.pk, admin_message)
        else:
            logger.info("Generation %s failed: %s", generation.pk, code)
        if charged:
            credits.charge(generation, charged)
        else:
            credits.release(generation)
    return True


def fail_with(generation: Generation, exc: RivyaError) -> bool:
    return fail(generation, exc.code, exc.member_message, _admin_words(exc))


def fail_unexpectedly(generation_id: int) -> bool:
    """The last word after a task kept crashing: fail the row, so it is not retried forever."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None:
        return False
    return fail(
        generation,
        "internal_error",
        INTERNAL_ERROR,
        "A task for this generation failed repeatedly; see the worker log.",
    )


def _time_is_up(generation: Generation) -> None:
    """Give up on a generation past its time budget; the late check keeps looking for it."""
    minutes = settings.GENERATION_TIME_BUDGET_SECONDS // 60
    fail(
        generation,
        TIMED_OUT,
        TIME_IS_UP.format(minutes=minutes),
        f"Gave up on task {generation.remote_task_id or '(never accepted)'} after {minutes} min.",
    )


# -- Submitting ------------------------------------------------------------------------------


def submit(generation_id: int, *, reclaim: bool = False) -> Next | None:
    """Send the create request once, then say what comes next.

    1. Claim the row: queued (or sending, its lease run out) and due, counting an attempt.
       ``reclaim`` (the task retried after a database error) takes back a sending row at once.
    2. Past the time budget: give up (timed_out). The model gone from Rivya's list: fail.
    3. POST the create, within the client's deadline. The generation's UUID is the
       Idempotency-Key, so a retry after a lost answer gets the same remote task.
    4. Accepted: processing, the first status check soon (:func:`_accepted`). Refused: wait and
       send again, or fail (:func:`_submit_refused`).
    """
    now = timezone.now()
    claimable = _due(now) & _free(now)
    if reclaim:
        claimable |= Q(status=Status.SENDING)
    generation = _claim(
        generation_id,
        claimable & Q(status__in=(Status.QUEUED, Status.SENDING)),
        status=Status.SENDING,
        submit_attempts=F("submit_attempts") + 1,
        status_note="",
    )
    if generation is None:
        return None
    if _past_budget(generation):
        _time_is_up(generation)
        return None
    model = catalog.find_model(generation.model)
    if model is None or not model.available:
        fail_with(generation, RivyaError("model_unavailable", generation.model))
        catalog.forget_models()
        return None
    try:
        task = _create(generation, model)
    except RivyaError as exc:
        return _submit_refused(generation, exc)
    return _accepted(generation, task)


def _create(generation: Generation, model: ModelInfo) -> RemoteTask:
    params = catalog.build_params(
        model,
        aspect_ratio=generation.aspect_ratio,
        negative_prompt=generation.negative_prompt,
        seed=generation.seed,
    )
    return get_client().create_generation(
        model=generation.model,
        prompt=generation.prompt,
        params=params,
        idempotency_key=str(generation.uuid),
    )


def _model_gone(generation: Generation) -> RivyaError | None:
    """After a refusal, ask the model list again: was it the model that went away (retired,
    or unavailable)? Then say so, rather than "change these settings"."""
    catalog.forget_models()
    model = catalog.find_model(generation.model)
    if model is None or not model.available:
        return RivyaError("model_unavailable", generation.model)
    return None


def _accepted(generation: Generation, task: RemoteTask) -> Next | None:
    delay = poll_delay(0)
    now = timezone.now()
    moved = _release(
        generation,
        status=Status.PROCESSING,
        remote_task_id=task.id,
        remote_status=task.status,
        submitted_at=now,
        next_check_at=now + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


def _submit_refused(generation: Generation, exc: RivyaError) -> Next | None:
    _log_refusal("Create", generation, exc)
    if exc.code == "validation_failed":
        exc = _model_gone(generation) or exc
    waiting = exc.policy.waiting
    # Rivya down is not this generation's fault: it waits (errors.py, ``rivya_down``) until
    # the time budget ends it. Attempts still grow the backoff.
    attempts_left = (
        exc.policy.rivya_down or generation.submit_attempts < settings.SUBMIT_MAX_ATTEMPTS
    )
    if not exc.retryable or not (waiting or attempts_left):
        fail_with(generation, exc)
        return None
    delay = exc.retry_after if exc.retry_after is not None else backoff(generation.submit_attempts)
    note = (ASKED_TO_WAIT if waiting else NO_PROPER_ANSWER).format(seconds=round(delay))
    moved = _release(
        generation,
        status=Status.QUEUED,
        status_note=note,
        next_check_at=timezone.now() + timedelta(seconds=delay),
        # Waiting when asked to is not a failed attempt; only failures use attempts up.
        submit_attempts=F("submit_attempts") - (1 if waiting else 0),
    )
    return Next("submit", delay) if moved else None


# -- Polling ---------------------------------------------------------------------------------


def poll(generation_id: int, *, force: bool = False, reclaim: bool = False) -> Next | None:
    """One status check of a generation Rivya accepted, then say what comes next.

    1. Claim the row (:func:`_claim_for_poll`). A webhook (``force``) for a generation we gave
       up on is handed to :func:`look_for_late_result`: the webhook cannot know which it is.
    2. GET the remote task, within the client's deadline. Refused: check again later, or give
       up (:func:`_poll_refused`).
    3. Succeeded: store the result (:func:`store_result`). Failed: fail with Rivya's reason,
       settling what it charged.
    4. Still running: past the time budget, give up (timed_out); otherwise check again after
       :func:`poll_delay`.
    """
    generation = _claim_for_poll(generation_id, force=force, reclaim=reclaim)
    if generation is None:
        return look_for_late_result(generation_id, webhook=True) if force else None
    try:
        task = get_client().get_generation(generation.remote_task_id or "")
    except RivyaError as exc:
        return _poll_refused(generation, exc)
    if task.status == SUCCEEDED:
        return store_result(generation, task)
    if task.status == FAILED:
        _remote_failed(generation, task)
        return None
    if _past_budget(generation):
        _time_is_up(generation)
        return None
    return _still_running(generation, task)


def _claim_for_poll(generation_id: int, *, force: bool, reclaim: bool) -> Generation | None:
    """Claim a processing or downloading row that is due and free. ``force`` (a webhook)
    checks a processing row now, even one another worker is checking; it never disturbs a
    worker storing the result. ``reclaim`` (a task retried after a database error) takes back
    the lease its first run left."""
    now = timezone.now()
    claimable = _due(now) & _free(now)
    if force:
        claimable |= Q(status=Status.PROCESSING)
    if reclaim:
        claimable = Q()
    return _claim(
        generation_id,
        claimable & ACCEPTED & Q(status__in=(Status.PROCESSING, Status.DOWNLOADING)),
        poll_count=F("poll_count") + 1,
    )


def _still_running(generation: Generation, task: RemoteTask) -> Next | None:
    delay = poll_delay(_age(generation))
    moved = _release(
        generation,
        remote_status=task.status,
        poll_errors=0,
        status_note="",
        next_check_at=timezone.now() + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


def _remote_failed(generation: Generation, task: RemoteTask) -> None:
    code = task.error_code or "generation_failed"
    # A task-level code we do not know is still a failed generation, not a refused request; and
    # Rivya's code never speaks with the words of an ending the member chose.
    known = code in ERROR_POLICIES and code not in MEMBER_ENDINGS
    policy = policy_for(code if known else "generation_failed")
    detail = task.error_message or "no reason given"
    fail(
        generation,
        code,
        policy.member_message.format(code=code, message=detail),
        f"Task {task.id} failed: {task.error_code}: {detail}",
        charged=task.final_credits or None,
    )


def _poll_refused(generation: Generation, exc: RivyaError) -> Next | None:
    _log_refusal("Status check", generation, exc)
    if not exc.retryable:
        fail_with(generation, exc)
        return None
    errors = generation.poll_errors + 1
    if errors >= settings.POLL_MAX_ERRORS and not exc.policy.waiting:
        fail(
            generation,
            LOST_CONTACT,
            "We lost contact with Rivya while it was making this image, so we stopped waiting "
            "and returned its credits. If Rivya finishes it after all, it will still appear "
            "here.",
            f"Status checks failed {errors} times in a row; last: {_admin_words(exc)}",
        )
        return None
    delay = exc.retry_after if exc.retry_after is not None else backoff(errors)
    moved = _release(
        generation,
        poll_errors=errors,
        status_note=SLOW_TO_ANSWER,
        next_check_at=timezone.now() + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


# -- A late result ---------------------------------------------------------------------------


def look_for_late_result(generation_id: int, *, webhook: bool = False) -> Next | None:
    """One look for the result of a generation we gave up on (:data:`LATE_CODES`): Rivya may
    still finish it. The reconciler runs this every :data:`LATE_CHECK_EVERY` for
    :data:`LATE_WINDOW` after we gave up; a webhook runs it at once, even after that.

    1. Claim the row: failed with a late code, and due (for a webhook: at any time).
    2. GET the remote task. Refused, or still running: look again later; a final answer
       (failed, or a refusal no retry can fix) ends the looking (:func:`_look_again_later`).
    3. Succeeded: store the result as a status check would (:func:`store_result`). The
       generation succeeds after all, and its release becomes the one charge.
    """
    now = timezone.now()
    claimable = Q() if webhook else _due(now) & _free(now)
    generation = _claim(
        generation_id,
        claimable & ACCEPTED & Q(status=Status.FAILED, error_code__in=LATE_CODES),
        poll_count=F("poll_count") + 1,
        poll_errors=0,  # the result's downloads get their own tries
    )
    if generation is None:
        return None
    try:
        task = get_client().get_generation(generation.remote_task_id or "")
    except RivyaError as exc:
        _log_refusal("Late check", generation, exc)
        _look_again_later(generation, final=not exc.retryable)
        return None
    if task.status != SUCCEEDED:
        _look_again_later(generation, final=task.is_finished)
        return None
    return store_result(generation, task)


def _look_again_later(generation: Generation, *, final: bool) -> None:
    """Look again in a while, until a day after we gave up, unless Rivya's answer was final."""
    now = timezone.now()
    window_over = generation.finished_at is not None and generation.finished_at < now - LATE_WINDOW
    _release(
        generation,
        next_check_at=None if final or window_over else now + LATE_CHECK_EVERY,
    )


# -- Storing the result ----------------------------------------------------------------------


def store_result(generation: Generation, task: RemoteTask) -> Next | None:
    """Keep Rivya's result, under the lease of the step that found it (a status check, the
    time budget's last look, or the late check).

    1. Mark the row downloading (a generation we gave up on is open again until step 4).
    2. Download every image within one deadline (:func:`_download`). One we cannot get, or
       refuse to keep, goes to :func:`_download_failed`.
    3. Save the images and a thumbnail under names fixed by the generation (a rerun overwrites).
    4. Only then, in one transaction, mark it succeeded and charge (:func:`_succeed`).
    """
    if not _held(generation).update(
        status=Status.DOWNLOADING,
        remote_status=task.status,
        status_note=SAVING,
    ):
        return None
    generation.status = Status.DOWNLOADING
    try:
        images = _download(task)
    except UnsafeResult as exc:
        return _download_failed(generation, task, exc)
    first = _save_images(generation, images)
    thumbnail = _save_thumbnail(generation, images[0])
    _succeed(generation, task, images[0], first, thumbnail)
    return None


def _download(task: RemoteTask) -> list[FetchedImage]:
    """Every image of the result (at most four), fetched and checked within one deadline and
    one byte budget for them all, so storing a result never outlasts its step's lease."""
    return fetch_result(task.urls)


def _succeed(
    generation: Generation, task: RemoteTask, primary: FetchedImage, image: str, thumbnail: str
) -> None:
    with transaction.atomic():  # succeeded and charged commit together
        done = _release(
            generation,
            status=Status.SUCCEEDED,
            image=image,
            thumbnail=thumbnail,
            width=primary.width,
            height=primary.height,
            credits_final=task.final_credits,
            status_note="",
            error_code="",
            error_message="",
            finished_at=timezone.now(),
            next_check_at=None,
        )
        if done:
            credits.charge(generation, task.final_credits)


def _download_failed(generation: Generation, task: RemoteTask, exc: UnsafeResult) -> Next | None:
    """A result we could not download (after a few tries) or refuse to keep. Rivya made it and
    charged for it, so the charge is settled and the member is told what happened."""
    detail = str(getattr(exc, "detail", "") or "")
    logger.warning(
        "Result of generation %s (task %s) not stored: %s %s",
        generation.pk,
        task.id,
        exc.message,
        detail,
    )
    errors = generation.poll_errors + 1
    if exc.retryable and errors < settings.POLL_MAX_ERRORS:
        delay = backoff(errors)
        moved = _release(
            generation, poll_errors=errors, next_check_at=timezone.now() + timedelta(seconds=delay)
        )
        return Next("poll", delay) if moved else None
    fail(
        generation,
        RESULT_REFUSED,
        refused_result(task.final_credits, exc.message, fetched=not exc.retryable),
        f"Result of task {task.id} not stored ({task.final_credits} credits charged): "
        f"{exc.message} {detail}".strip(),
        charged=task.final_credits or None,
    )
    return None


def _save_images(generation: Generation, images: list[FetchedImage]) -> str:
    """Store each image under a name fixed by the generation, so a rerun overwrites, never adds."""
    names = []
    for position, fetched in enumerate(images):
        name = f"generations/{generation.uuid}-{position}.{fetched.format.lower()}"
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(fetched.data))
        GenerationImage.objects.update_or_create(
            generation=generation,
            position=position,
            defaults={"image": saved, "width": fetched.width, "height": fetched.height},
        )
        names.append(saved)
    return names[0]


def _save_thumbnail(generation: Generation, fetched: FetchedImage) -> str:
    with Image.open(io.BytesIO(fetched.data)) as original:
        picture = original.convert("RGB")
    picture.thumbnail((settings.THUMBNAIL_SIZE, settings.THUMBNAIL_SIZE))
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=82)
    name = f"thumbnails/{generation.uuid}.webp"
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(out.getvalue()))


# -- The time budget and the reconciler ------------------------------------------------------


def expire(generation_id: int) -> Next | None:
    """End a generation past its time budget, after one last look at Rivya (the reconciler's).

    1. Claim the row: unfinished, and no worker holds it.
    2. Rivya accepted it: one last GET. Succeeded: store the result. Failed: fail with
       Rivya's reason, settling what it charged.
    3. Otherwise (still running, no answer, never accepted): fail it as timed_out; the late
       check keeps looking.
    """
    generation = _claim(generation_id, Q(status__in=UNFINISHED) & _free(timezone.now()))
    if generation is None:
        return None
    task = _last_look(generation)
    if task is not None and task.status == SUCCEEDED:
        return store_result(generation, task)
    if task is not None and task.status == FAILED:
        _remote_failed(generation, task)
        return None
    _time_is_up(generation)
    return None


def _last_look(generation: Generation) -> RemoteTask | None:
    if not generation.remote_task_id:
        return None
    try:
        return get_client().get_generation(generation.remote_task_id)
    except RivyaError as exc:
        _log_refusal("Last status check", generation, exc)
        return None


def overdue_generations(limit: int = 500) -> list[tuple[int, str, bool]]:
    """Rows a worker should look at now, and that no live worker holds: unfinished ones whose
    next check is overdue or which are past their time budget, and failed ones due a look for
    a late result: ``(id, status, past_budget)``."""
    now = timezone.now()
    budget_start = now - timedelta(seconds=settings.GENERATION_TIME_BUDGET_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now - RECONCILE_GRACE)
    unfinished = (
        Generation.objects.filter(status__in=UNFINISHED)
        .filter(Q(next_check_at__lte=now - RECONCILE_GRACE) | Q(created_at__lt=budget_start))
        .filter(free)
        .order_by("next_check_at")
        .values_list("pk", "status", "created_at")[:limit]
    )
    late = (
        Generation.objects.filter(
            status=Status.FAILED, error_code__in=LATE_CODES, next_check_at__lte=now
        )
        .filter(free)
        .values_list("pk", "status", "created_at")[:limit]
    )
    return [
        (pk, status, status != Status.FAILED and created < budget_start)
        for pk, status, created in [*unfinished, *late]
    ]


# -- Ending it early: the member's choice (issue 11) -----------------------------------------

# Never sent to Rivya: queued, with no attempt that could have reached it. An attempt Rivya
# refused by asking us to wait is not counted (:func:`_submit_refused`) and made nothing there;
# any other attempt (a timeout, a lost answer) may have made a task at Rivya.
NOT_SENT = Q(status=Status.QUEUED, submit_attempts=0)
# Why a cancel or a stop did nothing, in English; the view says it in the member's language.
ALREADY_FINISHED = gettext_noop(
    "This image is already finished, so there is nothing to cancel or stop."
)
ALREADY_SENT = gettext_noop(
    "This image may already have reached Rivya, which cannot be asked to stop it, so it can no "
    "longer be cancelled. Use “Stop waiting” instead: its credits come back, and they are "
    "charged only if Rivya finishes it after all."
)
NOT_SENT_YET = gettext_noop("This image has not been sent to Rivya yet. Cancel it instead.")
BUSY = gettext_noop(
    "The studio is in the middle of a step for this image (sending it, checking on it or saving "
    "it). Try again in a moment."
)


class CannotEnd(Exception):
    """A member asked to cancel or stop waiting for a generation that is not in a state for
    it; ``message`` says why and what to do instead. Nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def never_sent(generation: Generation) -> bool:
    """The row as read was never sent (:data:`NOT_SENT`): the page offers "Cancel" for it, and
    "Stop waiting" for any other unfinished one."""
    return generation.status == Status.QUEUED and generation.submit_attempts == 0


def cancel(generation_id: int, user: AbstractBaseUser) -> None:
    """Cancel a member's generation that was never sent to Rivya, and give its credits back.

    1. In one transaction, claim the row: the member's, never sent, and no worker holds it. A
       worker claiming it to send at the same moment takes it or this does, never both: both
       are conditional updates of the same row.
    2. Fail it as cancelled; :func:`fail` releases the reservation in the same transaction.

    Raises :class:`CannotEnd` when it was sent or may have been (stop waiting instead), or has
    finished.
    """
    with transaction.atomic():
        claimable = NOT_SENT & _free(timezone.now()) & Q(user_id=user.pk)
        generation = _claim(generation_id, claimable)
        if generation is not None:
            _end(generation, CANCELLED)
            return
    raise _refusal(generation_id, CANCELLED)


def stop_waiting(generation_id: int, user: AbstractBaseUser) -> None:
    """Stop waiting for a member's generation that was sent to Rivya (or may have been): end it
    here and give its credits back. Rivya has no cancel and may still finish it, so it fails
    with a late code: the late check keeps looking (:func:`look_for_late_result`), and a late
    result succeeds after all, its release becoming the one charge.

    1. In one transaction, claim the row: the member's, unfinished but not never sent, and no
       worker holds it. A worker in the middle of a step (sending, checking, saving) is never
       overtaken, or a task Rivya accepted could be lost; the member is asked to try again.
    2. Fail it as stopped_waiting; :func:`fail` releases the reservation in the same
       transaction and schedules the late check when Rivya accepted it.

    Raises :class:`CannotEnd` when it was never sent (cancel instead), is held by a worker, or
    has finished.
    """
    with transaction.atomic():
        claimable = Q(status__in=UNFINISHED, user_id=user.pk) & ~NOT_SENT & _free(timezone.now())
        generation = _claim(generation_id, claimable)
        if generation is not None:
            _end(generation, STOPPED_WAITING)
            return
    raise _refusal(generation_id, STOPPED_WAITING)


def _end(generation: Generation, code: str) -> None:
    policy = policy_for(code)
    admin_message = policy.admin_message
    if generation.remote_task_id:
        admin_message = f"{admin_message} Rivya task: {generation.remote_task_id}."
    fail(generation, code, policy.member_message, admin_message)


def _refusal(generation_id: int, wanted: str) -> CannotEnd:
    """Why the row could not be claimed for ``wanted``, in the member's words."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or generation.is_finished:
        return CannotEnd(ALREADY_FINISHED)
    if wanted == CANCELLED:
        return CannotEnd(ALREADY_SENT)
    if never_sent(generation):
        return CannotEnd(NOT_SENT_YET)
    return CannotEnd(BUSY)
