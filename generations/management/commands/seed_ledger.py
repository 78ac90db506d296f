"""Fill the credit ledger with many rows for the usage-page benchmark (never for real data).

Each seeded generation gets a reservation and a settlement (nine charges in ten, the rest
released), so ``--rows`` ledger rows make half as many generations. Rows are spread evenly over
the last ``--days`` days with ``bulk_create`` in batches; running it again tops up to ``--rows``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from generations.management.commands.seed_history import own_timestamps, seed_members
from generations.models import Generation, LedgerEntry, Status

SEED_PREFIX = "Seeded ledger row"
MEMBERS = 20


class Command(BaseCommand):
    help = "Make --rows ledger rows (and half as many generations) for the usage benchmark."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args: Any, rows: int, days: int, batch: int, **options: Any) -> None:
        if rows < 0 or days < 1 or batch < 2:
            raise CommandError("--rows must be 0 or more, --days at least 1, --batch at least 2")
        have = LedgerEntry.objects.filter(generation__prompt__startswith=SEED_PREFIX).count()
        wanted = (rows - have) // 2
        if wanted <= 0:
            self.stdout.write(f"{have} seeded ledger rows already; nothing to add.")
            return
        members = seed_members(MEMBERS)
        now = timezone.now()
        step = timedelta(days=days) / max(1, rows // 2)
        start = have // 2
        with own_timestamps():
            for first in range(start, start + wanted, batch // 2):
                count = min(batch // 2, start + wanted - first)
                self.add_batch(first, count, members, now, step)
        total = have + wanted * 2
        self.stdout.write(f"Added {wanted * 2} seeded ledger rows ({total} in all).")

    @staticmethod
    def add_batch(first: int, count: int, members: list[Any], now: datetime, step: Any) -> None:
        with transaction.atomic():
            generations = Generation.objects.bulk_create(
                Generation(
                    user=members[n % len(members)],
                    form_token=uuid.uuid4(),
                    prompt=f"{SEED_PREFIX} #{n}",
                    status=Status.SUCCEEDED if n % 10 else Status.FAILED,
                    credits_reserved=8,
                    credits_final=8 if n % 10 else 0,
                    created_at=now - step * n,
                    finished_at=now - step * n,
                )
                for n in range(first, first + count)
            )
            entries = []
            for generation in generations:
                charged = generation.status == Status.SUCCEEDED
                common = {"generation": generation, "user_id": generation.user_id, "credits": 8}
                when = generation.created_at
                entries.append(
                    LedgerEntry(phase="reservation", kind="reserve", created_at=when, **common)
                )
                entries.append(
                    LedgerEntry(
                        phase="settlement",
                        kind="charge" if charged else "release",
                        created_at=when + timedelta(seconds=5),
                        **common,
                    )
                )
            LedgerEntry.objects.bulk_create(entries)
