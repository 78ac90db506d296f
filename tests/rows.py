"""Rows made directly in the database, in the state a test needs: no lifecycle, no API. For a
generation made the app's way, see ``tests.support.new_generation``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from generations import errors
from generations.models import Generation, LedgerEntry, Status
from tests.support import png_bytes


def generation(user: User, status: str = Status.SUCCEEDED, **fields: Any) -> Generation:
    """A generation of ``user`` in ``status``; a succeeded one has a real stored image."""
    fields.setdefault("prompt", f"A test image by {user.username}")
    fields.setdefault("credits_reserved", 8)
    if status in (Status.SUCCEEDED, Status.FAILED):
        fields.setdefault("finished_at", timezone.now())
    if status == Status.FAILED:
        fields.setdefault("error_code", "generation_failed")
        # The words the lifecycle stores for this code (errors.py), so a page translates them.
        fields.setdefault("error_message", errors.policy_for("generation_failed").member_message)
    created_at = fields.pop("created_at", None)
    fields.setdefault("form_token", uuid.uuid4())
    row = Generation.objects.create(user=user, status=status, **fields)
    if created_at is not None:  # auto_now_add ignores a value given to create()
        Generation.objects.filter(pk=row.pk).update(created_at=created_at)
        row.created_at = created_at
    if status == Status.SUCCEEDED:
        row.image.save(f"{row.uuid}.png", ContentFile(png_bytes(128, 128)), save=False)
        row.thumbnail.save(f"{row.uuid}-thumb.png", ContentFile(png_bytes()), save=False)
        row.width = row.height = 128
        row.credits_final = row.credits_reserved
        row.save()
        row.images.create(position=0, image=row.image.name, width=128, height=128)
    return row


def batch(user: User, *statuses: str, **fields: Any) -> list[Generation]:
    """One request of several images, one row per status given (the lead first), as
    ``lifecycle.create`` saves them: one form token, the followers pointing at the lead; each
    succeeded one with its own stored image. Seeds count up from ``seed`` (default 100)."""
    token, seed = uuid.uuid4(), fields.pop("seed", 100)
    rows: list[Generation] = []
    for position, status in enumerate(statuses):
        lead = {"batch_lead": rows[0], "batch_position": position} if rows else {}
        rows.append(
            generation(user, status, form_token=token, seed=seed + position, **lead, **fields)
        )
    return rows


def ledger_entry(row: Generation, kind: str, credits: int, when: Any = None) -> LedgerEntry:
    """One ledger entry for ``row``, dated ``when`` (default: now)."""
    phase = LedgerEntry.Phase.RESERVATION if kind == "reserve" else LedgerEntry.Phase.SETTLEMENT
    entry = LedgerEntry.objects.create(
        generation=row, user_id=row.user_id, phase=phase, kind=kind, credits=credits
    )
    if when is not None:
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


def march_noon(day: int) -> datetime:
    """Noon of a day in March 2026, in the studio's time zone: the usage tests' ledger days."""
    return datetime(2026, 3, day, 12, 0, tzinfo=timezone.get_current_timezone())
