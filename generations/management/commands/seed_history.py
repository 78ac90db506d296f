"""Fill the history with many finished generations for benchmarks (never for real data).

Rows are made with ``bulk_create`` in batches; every row points at one of a few image files
written once, so 100,000 generations cost a few kilobytes of disk. Running it again tops the
seeded rows up to ``--count`` instead of adding as many again.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from PIL import Image

from generations.models import Generation, Status

SEED_PREFIX = "Seeded for benchmarks"
SHARED_IMAGES = 4
MEMBERS = 10
COLOURS = ((200, 120, 80), (60, 140, 200), (90, 180, 110), (220, 200, 90))


def shared_images() -> list[tuple[str, str]]:
    """(image, thumbnail) storage names of the few files every seeded row points at."""
    names = []
    for index, colour in enumerate(COLOURS[:SHARED_IMAGES]):
        image = f"seed/image-{index}.png"
        thumb = f"seed/thumb-{index}.png"
        for name, side in ((image, 64), (thumb, 32)):
            if not default_storage.exists(name):
                out = io.BytesIO()
                Image.new("RGB", (side, side), colour).save(out, format="PNG")
                default_storage.save(name, ContentFile(out.getvalue()))
        names.append((image, thumb))
    return names


def seed_members(count: int) -> list[User]:
    return [User.objects.get_or_create(username=f"seed-member-{n:02d}")[0] for n in range(count)]


class Command(BaseCommand):
    help = "Make --count finished generations (shared image files) for the history benchmarks."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args: Any, count: int, batch: int, **options: Any) -> None:
        if count < 0 or batch < 1:
            raise CommandError("--count must be 0 or more and --batch at least 1")
        have = Generation.objects.filter(prompt__startswith=SEED_PREFIX).count()
        missing = count - have
        if missing <= 0:
            self.stdout.write(f"{have} seeded generations already; nothing to add.")
            return
        images = shared_images()
        members = seed_members(MEMBERS)
        now = timezone.now()
        made = 0
        while made < missing:
            size = min(batch, missing - made)
            rows = [self.row(have + made + i, members, images, now) for i in range(size)]
            Generation.objects.bulk_create(rows, batch_size=batch)
            made += size
        self.stdout.write(f"Added {made} seeded generations ({have + made} in all).")

    @staticmethod
    def row(n: int, members: list[User], images: list[tuple[str, str]], now: Any) -> Generation:
        image, thumb = images[n % len(images)]
        finished = now - timedelta(seconds=n)
        return Generation(
            user=members[n % len(members)],
            form_token=uuid.uuid4(),
            prompt=f"{SEED_PREFIX} #{n}: a quiet harbour at dusk, oil on canvas",
            status=Status.SUCCEEDED,
            remote_task_id=f"seed_{uuid.uuid4().hex}",
            remote_status="succeeded",
            credits_reserved=8,
            credits_final=8,
            image=image,
            thumbnail=thumb,
            width=64,
            height=64,
            submitted_at=finished,
            finished_at=finished,
        )
