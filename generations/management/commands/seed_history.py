"""Fill the history with many finished generations for benchmarks (never for real data).

Rows are made with ``bulk_create`` in batches; every row points at one of a few image files
written once, so 100,000 generations cost a few kilobytes of disk. Running it again tops the
seeded rows up to ``--count`` instead of adding as many again.

The rows vary the way a team's history does, each property drawn on its own (a generator seeded
with the row's number, so a re-run makes the same rows) so that filters combine: fourteen
English and six Thai subjects, a rare word in about one row in a thousand, negative prompts in
half the rows, the three models (6:3:1; the oldest thousand rows a retired one), the five
ratios, one failure in ten, ten members, dates spread over the last year (older rows first, as
ids grow), and a star on one row in fifty. Rows seeded before this variety (prompts
``Seeded for benchmarks #n``) are left as they are and not counted.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from PIL import Image

from generations.catalog import ASPECT_RATIOS
from generations.models import Favorite, Generation, LedgerEntry, Status

SEED_PREFIX = "Seeded for benchmarks, mixed"
SHARED_IMAGES = 4
MEMBERS = 10
COLOURS = ((200, 120, 80), (60, 140, 200), (90, 180, 110), (220, 200, 90))
SPREAD = timedelta(days=365)
SUBJECTS = (
    "a quiet harbour at dusk, oil on canvas",
    "a red bicycle leaning on a yellow wall, morning light",
    "portrait of an old fisherman, dramatic lighting",
    "a lighthouse in a storm, watercolour",
    "a bowl of ramen on a wooden table, food photography",
    "isometric city block at night, neon signs",
    "a cat sleeping on a stack of books",
    "mountain lake with pine trees, misty sunrise",
    "vintage travel poster of Bangkok, bold colours",
    "a cup of coffee with latte art, top view",
    "an astronaut riding a horse on the moon",
    "a cosy reading nook with rain on the window",
    "macro photo of a dew drop on a leaf",
    "a futuristic train station, cinematic",
    "แมวส้มนอนบนโซฟา แสงยามเช้า",  # an orange cat asleep on a sofa, morning light
    "ตลาดน้ำยามเช้า ภาพสีน้ำมัน",  # a floating market in the morning, oil painting
    "วัดอรุณตอนพระอาทิตย์ตก",  # Wat Arun at sunset
    "ช้างเดินในป่าฝน",  # an elephant walking in the rainforest
    "ข้าวเหนียวมะม่วงบนจานกระเบื้อง",  # mango sticky rice on a ceramic plate
    "รถตุ๊กตุ๊กบนถนนกรุงเทพฯ ตอนกลางคืน",  # a tuk-tuk on a Bangkok street at night
)
RARE = (" with a blue giraffe", " และยีราฟสีฟ้า")  # a blue giraffe, in English and Thai
RARE_SHARE = 0.001
NEGATIVES = ("blurry, text, watermark", "ภาพเบลอ ตัวหนังสือ", "", "")
MODELS = ("google-imagen4",) * 6 + ("google-imagen4-fast",) * 3 + ("google-imagen4-ultra",)
RETIRED_MODEL, RETIRED_ROWS = "google-imagen4-preview", 1000  # the oldest rows only
FAILED_SHARE = 0.1
STARRED_SHARE = 0.02


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


@contextmanager
def own_timestamps() -> Iterator[None]:
    """Let bulk_create keep the created_at we give (auto_now_add would overwrite it)."""
    fields = [Generation._meta.get_field("created_at"), LedgerEntry._meta.get_field("created_at")]
    for field in fields:
        field.auto_now_add = False
    try:
        yield
    finally:
        for field in fields:
            field.auto_now_add = True


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
        start = timezone.now() - SPREAD
        step = SPREAD / max(count, 1)
        made = 0
        with own_timestamps():
            while made < missing:
                size = min(batch, missing - made)
                first = have + made
                rows = [
                    self.row(n, members, images, start + step * n)
                    for n in range(first, first + size)
                ]
                self.add_batch(rows, first, members)
                made += size
        self.stdout.write(f"Added {made} seeded generations ({have + made} in all).")

    @staticmethod
    def add_batch(rows: list[Generation], first: int, members: list[User]) -> None:
        with transaction.atomic():
            made = Generation.objects.bulk_create(rows)
            stars = []
            for n, row in enumerate(made, start=first):
                draw = random.Random(f"star {n}")  # its own stream, apart from the row's
                if draw.random() < STARRED_SHARE:
                    stars.append(Favorite(user=draw.choice(members), generation=row))
            Favorite.objects.bulk_create(stars)

    @staticmethod
    def row(
        n: int, members: list[User], images: list[tuple[str, str]], created: datetime
    ) -> Generation:
        draw = random.Random(n)
        image, thumb = images[n % len(images)]
        rare = "".join(words for words in RARE if draw.random() < RARE_SHARE)
        failed = draw.random() < FAILED_SHARE
        finished = created + timedelta(seconds=draw.uniform(5, 25))
        return Generation(
            user=draw.choice(members),
            form_token=uuid.uuid4(),
            model=RETIRED_MODEL if n < RETIRED_ROWS else draw.choice(MODELS),
            prompt=f"{SEED_PREFIX} #{n}: {draw.choice(SUBJECTS)}{rare}",
            negative_prompt=draw.choice(NEGATIVES),
            aspect_ratio=draw.choice(ASPECT_RATIOS),
            status=Status.FAILED if failed else Status.SUCCEEDED,
            remote_task_id=f"seed_{uuid.uuid4().hex}",
            remote_status="failed" if failed else "succeeded",
            error_code="generation_failed" if failed else "",
            error_message="Rivya could not make this image." if failed else "",
            credits_reserved=8,
            credits_final=0 if failed else 8,
            image="" if failed else image,
            thumbnail="" if failed else thumb,
            width=None if failed else 64,
            height=None if failed else 64,
            created_at=created,
            submitted_at=created,
            finished_at=finished,
        )
