"""The life of a generation, step by step. Celery tasks call these functions and nothing else.

Every step first claims the row with a conditional update (``filter(pk=…, status=…).update(…)``);
if no row changed, another worker got there first and the step returns quietly. Each step returns
what should happen next (a :class:`Next`), and the task schedules it; no step sleeps. The row's
``next_check_at`` is when a worker should look again: the reconciler re-enqueues rows past it.
"""

from __future__ import annotations

import io
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from generations import catalog, credits
from generations.downloader import FetchedImage, UnsafeResult, fetch_image
from generations.models import UNFINISHED, Generation, GenerationImage, Status
from generations.rivya import (
    ERROR_POLICIES,
    ModelInfo,
    RemoteTask,
    RivyaError,
    get_client,
    policy_for,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)  # how long a claimed step may take before others may redo it
SLACK = timedelta(seconds=1)  # a scheduled task may wake this much early
RECONCILE_GRACE = timedelta(seconds=10)  # how late a check must be before the reconciler steps in
WAITING_CODES = {"rate_limited", "public_api_disabled"}  # waiting, not failing: no attempt counted
ADMIN_CODES = {
    "insufficient_credits",
    "api_scope_denied",
    "api_key_missing",
    "api_key_invalid",
    "api_key_revoked",
    "api_key_expired",
}
TIMED_OUT = "timed_out"
LOST_CONTACT = "lost_contact"
# Failures Rivya may still finish: we keep looking, and a late result is recorded once.
LATE_CODES = (TIMED_OUT, LOST_CONTACT)
LATE_CHECK_EVERY = timedelta(minutes=10)
LATE_WINDOW = timedelta(hours=24)


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
) -> tuple[Generation, bool]:
    """Save a generation and reserve its credits in one transaction; nothing is sent yet.
    Returns ``(generation, created)``: a form sent twice gives back the first generation.
    Raises :class:`credits.OverBudget` (and saves nothing) when the member's budget is short."""
    existing = Generation.objects.filter(user_id=user.pk, form_token=form_token).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            generation = Generation.objects.create(
                user_id=user.pk,
                form_token=form_token,
                model=model.id,
                prompt=prompt,
                aspect_ratio=aspect_ratio,
                negative_prompt=negative_prompt,
                seed=seed,
                next_check_at=timezone.now(),
            )
            credits.reserve(generation, model.base_credits)
    except IntegrityError:
        # The same form arrived twice at once and the other request saved it first.
        return Generation.objects.get(user_id=user.pk, form_token=form_token), False
    generation.credits_reserved = model.base_credits
    return generation, True


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
    Rivya made when ``charged`` is given). Returns False if it had finished already.
    For the :data:`LATE_CODES` the reconciler keeps looking now and then, for a late result."""
    look_later = code in LATE_CODES and bool(generation.remote_task_id)
    # The state change and its settlement commit together: a crash between them would leave
    # a finished row whose credits were never settled.
    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation.pk, status__in=UNFINISHED).update(
            status=Status.FAILED,
            error_code=code,
            error_message=member_message,
            admin_message=admin_message,
            status_note="",
            finished_at=timezone.now(),
            next_check_at=timezone.now() + LATE_CHECK_EVERY if look_later else None,
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
    return fail(generation, exc.code, exc.member_message, exc.admin_message)


def fail_unexpectedly(generation_id: int) -> bool:
    """The last word after a task kept crashing: fail the row, so it is not retried forever."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None:
        return False
    return fail(
        generation,
        "internal_error",
        "Something went wrong on our side while making this image. Try again; if it keeps "
        "happening, tell an admin.",
        "A task for this generation failed repeatedly; see the worker log.",
    )


# -- Submitting ------------------------------------------------------------------------------


def submit(generation_id: int, *, reclaim: bool = False) -> Next | None:
    """Send the create request once. The generation's UUID is the Idempotency-Key, so a retry
    after a lost answer gets the same remote task. ``reclaim`` (a task retried after a database
    error) takes back a sending row's lease without waiting for it to run out."""
    now = timezone.now()
    due = Q(next_check_at__lte=now + SLACK)
    if reclaim:
        due |= Q(status=Status.SENDING)
    claimed = Generation.objects.filter(
        due, pk=generation_id, status__in=(Status.QUEUED, Status.SENDING)
    ).update(
        status=Status.SENDING,
        submit_attempts=F("submit_attempts") + 1,
        next_check_at=now + LEASE,
        status_note="",
    )
    if not claimed:
        return None
    generation = Generation.objects.get(pk=generation_id)
    if _past_budget(generation):
        return expire(generation_id)
    model = catalog.find_model(generation.model)
    if model is None or not model.available:
        fail_with(generation, RivyaError("model_unavailable", generation.model))
        catalog.forget_models()
        return None
    params = catalog.build_params(
        model,
        aspect_ratio=generation.aspect_ratio,
        negative_prompt=generation.negative_prompt,
        seed=generation.seed,
    )
    try:
        task = get_client().create_generation(
            model=generation.model,
            prompt=generation.prompt,
            params=params,
            idempotency_key=str(generation.uuid),
        )
    except RivyaError as exc:
        return _submit_refused(generation, exc)
    return _accepted(generation, task)


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
    moved = Generation.objects.filter(pk=generation.pk, status=Status.SENDING).update(
        status=Status.PROCESSING,
        remote_task_id=task.id,
        remote_status=task.status,
        submitted_at=now,
        next_check_at=now + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


def _submit_refused(generation: Generation, exc: RivyaError) -> Next | None:
    logger.warning("Create for generation %s answered %s", generation.pk, exc.code)
    if exc.code == "validation_failed":
        exc = _model_gone(generation) or exc
    waiting = exc.code in WAITING_CODES
    attempts_left = generation.submit_attempts < settings.SUBMIT_MAX_ATTEMPTS
    if not exc.retryable or not (waiting or attempts_left):
        fail_with(generation, exc)
        return None
    delay = exc.retry_after if exc.retry_after is not None else backoff(generation.submit_attempts)
    note = (
        f"Rivya asked us to wait; sending again in {round(delay)} s."
        if waiting
        else f"Rivya did not answer properly; trying again in {round(delay)} s."
    )
    moved = Generation.objects.filter(pk=generation.pk, status=Status.SENDING).update(
        status=Status.QUEUED,
        status_note=note,
        next_check_at=timezone.now() + timedelta(seconds=delay),
        # Waiting when asked to is not a failed attempt; only failures use attempts up.
        submit_attempts=F("submit_attempts") - (1 if waiting else 0),
    )
    return Next("submit", delay) if moved else None


# -- Polling ---------------------------------------------------------------------------------


def poll(generation_id: int, *, force: bool = False, reclaim: bool = False) -> Next | None:
    """One GET of the remote task, then the next step. ``force`` (a webhook arrived) checks now
    even if the next check is not yet due; ``reclaim`` (a task retried after a database error)
    also takes back the lease of a result being stored."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or not generation.remote_task_id:
        return None
    late = generation.status == Status.FAILED and generation.error_code in LATE_CODES
    if late and generation.next_check_at is None and not force:
        return None  # no longer looked after (past the late window)
    if generation.status not in (Status.PROCESSING, Status.DOWNLOADING) and not late:
        return None
    now = timezone.now()
    due = generation.next_check_at is None or generation.next_check_at <= now + SLACK
    if not (due or force or reclaim):
        return None  # a check is already scheduled; this message is a duplicate
    if generation.status == Status.DOWNLOADING and not (due or reclaim):
        return None  # a worker holds the lease and is storing the result; a webhook adds nothing
    lease_until = now + LEASE
    claimed = Generation.objects.filter(
        pk=generation.pk, status=generation.status, next_check_at=generation.next_check_at
    ).update(next_check_at=lease_until, poll_count=F("poll_count") + 1)
    if not claimed:
        return None
    try:
        task = get_client().get_generation(generation.remote_task_id)
    except RivyaError as exc:
        return _poll_refused(generation, exc, late=late)
    if task.status == "succeeded":
        return store_result(generation, task, lease_until, late=late)
    if late:
        _look_again_later(generation, finished=task.is_finished)
        return None
    if task.status == "failed":
        _remote_failed(generation, task)
        return None
    if _past_budget(generation):
        return expire(generation.pk)
    return _still_running(generation, task)


def _still_running(generation: Generation, task: RemoteTask) -> Next | None:
    delay = poll_delay(_age(generation))
    moved = Generation.objects.filter(pk=generation.pk, status=Status.PROCESSING).update(
        remote_status=task.status,
        poll_errors=0,
        status_note="",
        next_check_at=timezone.now() + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


def _remote_failed(generation: Generation, task: RemoteTask) -> None:
    code = task.error_code or "generation_failed"
    # A task-level code we do not know is still a failed generation, not a refused request.
    policy = policy_for(code if code in ERROR_POLICIES else "generation_failed")
    detail = task.error_message or "no reason given"
    fail(
        generation,
        code,
        policy.member_message.format(code=code, message=detail),
        f"Task {task.id} failed: {task.error_code}: {detail}",
        charged=task.final_credits or None,
    )


def _poll_refused(generation: Generation, exc: RivyaError, *, late: bool) -> Next | None:
    logger.warning("Status check for generation %s answered %s", generation.pk, exc.code)
    if late:
        _look_again_later(generation, finished=not exc.retryable)
        return None
    if not exc.retryable:
        fail_with(generation, exc)
        return None
    errors = generation.poll_errors + 1
    if errors >= settings.POLL_MAX_ERRORS and exc.code not in WAITING_CODES:
        fail(
            generation,
            LOST_CONTACT,
            "We lost contact with Rivya while it was making this image, so we stopped waiting "
            "and returned its credits. If Rivya finishes it after all, it will still appear "
            "here.",
            f"Status checks failed {errors} times in a row; last: {exc.admin_message}",
        )
        return None
    delay = exc.retry_after if exc.retry_after is not None else backoff(errors)
    moved = Generation.objects.filter(pk=generation.pk, status=generation.status).update(
        poll_errors=errors,
        status_note="Rivya is slow to answer; we keep checking.",
        next_check_at=timezone.now() + timedelta(seconds=delay),
    )
    return Next("poll", delay) if moved else None


def _look_again_later(generation: Generation, *, finished: bool) -> None:
    """A failed generation that Rivya may still finish: look again in a while, for a day."""
    stop = finished or (
        generation.finished_at is not None and generation.finished_at < timezone.now() - LATE_WINDOW
    )
    Generation.objects.filter(pk=generation.pk, status=Status.FAILED).update(
        next_check_at=None if stop else timezone.now() + LATE_CHECK_EVERY
    )


# -- Storing the result ----------------------------------------------------------------------


def store_result(
    generation: Generation, task: RemoteTask, lease_until: datetime, *, late: bool = False
) -> Next | None:
    """Download every image, keep it and a thumbnail, then (only then) mark the row succeeded."""
    rows = Generation.objects.filter(pk=generation.pk, next_check_at=lease_until)
    if late:
        rows = rows.filter(status=Status.FAILED, error_code__in=LATE_CODES)
    else:
        rows = rows.filter(status__in=(Status.PROCESSING, Status.DOWNLOADING))
    if not rows.update(
        status=Status.DOWNLOADING,
        remote_status=task.status,
        status_note="Rivya finished; saving the image.",
    ):
        return None
    if not task.urls:
        return _download_failed(generation, task, UnsafeResult("Rivya sent no image address."))
    # One deadline for all of a result's images, so storing them stays within a task's limits.
    deadline = time.monotonic() + settings.RESULT_DEADLINE_SECONDS
    try:
        images = [
            fetch_image(url, deadline_seconds=max(1.0, deadline - time.monotonic()))
            for url in task.urls
        ]
    except UnsafeResult as exc:
        return _download_failed(generation, task, exc)
    first = _save_images(generation, images)
    thumbnail = _save_thumbnail(generation, images[0])
    with transaction.atomic():  # succeeded and charged commit together
        done = Generation.objects.filter(
            pk=generation.pk, status=Status.DOWNLOADING, next_check_at=lease_until
        ).update(
            status=Status.SUCCEEDED,
            image=first,
            thumbnail=thumbnail,
            width=images[0].width,
            height=images[0].height,
            credits_final=task.final_credits,
            status_note="",
            error_code="",
            error_message="",
            finished_at=timezone.now(),
            next_check_at=None,
        )
        if done:
            if late:
                credits.convert_release_to_charge(generation, task.final_credits)
            else:
                credits.charge(generation, task.final_credits)
    return None


def _download_failed(generation: Generation, task: RemoteTask, exc: UnsafeResult) -> Next | None:
    logger.warning("Result of generation %s not stored: %s", generation.pk, exc.message)
    errors = generation.poll_errors + 1
    if exc.retryable and errors < settings.POLL_MAX_ERRORS:
        delay = backoff(errors)
        Generation.objects.filter(pk=generation.pk, status=Status.DOWNLOADING).update(
            poll_errors=errors, next_check_at=timezone.now() + timedelta(seconds=delay)
        )
        return Next("poll", delay)
    fail(
        generation,
        "result_unsafe",
        f"Rivya made the image, but it could not be saved safely: {exc.message} "
        "Try again; if it happens again, tell an admin.",
        f"Result of task {task.id} refused: {exc.message}",
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
    """End a generation past its time budget, after one last look at the API."""
    generation = Generation.objects.filter(pk=generation_id, status__in=UNFINISHED).first()
    if generation is None:
        return None
    if generation.remote_task_id:
        try:
            task = get_client().get_generation(generation.remote_task_id)
        except RivyaError:
            task = None
        if task is not None and task.status == "succeeded":
            lease_until = timezone.now() + LEASE
            claimed = Generation.objects.filter(pk=generation.pk, status__in=UNFINISHED).update(
                next_check_at=lease_until
            )
            return store_result(generation, task, lease_until) if claimed else None
        if task is not None and task.status == "failed":
            _remote_failed(generation, task)
            return None
    minutes = settings.GENERATION_TIME_BUDGET_SECONDS // 60
    fail(
        generation,
        TIMED_OUT,
        f"Rivya did not finish this image within {minutes} minutes, so we stopped waiting. "
        "Nothing was charged. Try again later; if Rivya finishes it after all, it will still "
        "appear here.",
        f"Gave up on task {generation.remote_task_id or '(never accepted)'} after {minutes} min.",
    )
    return None


def overdue_generations(limit: int = 500) -> list[tuple[int, str, bool]]:
    """Rows a worker should look at now: unfinished ones whose next check is overdue or which
    are past their time budget, and failed ones due a look for a late result:
    ``(id, status, past_budget)``."""
    now = timezone.now()
    budget_start = now - timedelta(seconds=settings.GENERATION_TIME_BUDGET_SECONDS)
    unfinished = (
        Generation.objects.filter(status__in=UNFINISHED)
        .filter(Q(next_check_at__lte=now - RECONCILE_GRACE) | Q(created_at__lt=budget_start))
        .order_by("next_check_at")
        .values_list("pk", "status", "created_at")[:limit]
    )
    late = Generation.objects.filter(
        status=Status.FAILED, error_code__in=LATE_CODES, next_check_at__lte=now
    ).values_list("pk", "status", "created_at")[:limit]
    return [
        (pk, status, status != Status.FAILED and created < budget_start)
        for pk, status, created in [*unfinished, *late]
    ]
