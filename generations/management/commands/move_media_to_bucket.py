"""Copy the images a team kept on one machine's disk into the bucket it now uses.

Run it once AWS_STORAGE_BUCKET_NAME (and the bucket's other settings) is set. Every file under the
local media folder is stored in the bucket under the same name, which is the name the database
already holds, so pages show it at once. A file already in the bucket with the same size is left
as it is: a second run, or a run after an interrupted one, copies only what is missing (an upload
is all or nothing in S3, so a cut-off run leaves no half file). The local files are not deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

BAR_WIDTH = 24


def stored_names(folder: FileSystemStorage, under: str = "") -> Iterator[str]:
    """Every file's name in ``folder``, as the storage names it (``generations/x.png``)."""
    subfolders, files = folder.listdir(under)
    for name in sorted(files):
        yield f"{under}{name}"
    for subfolder in sorted(subfolders):
        yield from stored_names(folder, f"{under}{subfolder}/")


def already_there(bucket: Storage, name: str, size: int) -> bool:
    try:
        return bucket.size(name) == size
    except FileNotFoundError:
        return False


def progress(done: int, total: int) -> str:
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:>{len(str(total))}}/{total}"


class Command(BaseCommand):
    help = "Copy the local media folder into the bucket (AWS_STORAGE_BUCKET_NAME); safe to rerun."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="folder",
            default=None,
            help="The local media folder (default: MEDIA_ROOT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bucket = storages["default"]
        if isinstance(bucket, FileSystemStorage):
            raise CommandError(
                "Images are kept in the local folder: set AWS_STORAGE_BUCKET_NAME (and the "
                "bucket's AWS_* settings) first, then run this to copy them into the bucket."
            )
        folder = Path(options["folder"] or settings.MEDIA_ROOT)
        if not folder.is_dir():
            raise CommandError(f"There is no media folder at {folder}.")
        self.move(FileSystemStorage(location=folder), bucket)

    def move(self, local: FileSystemStorage, bucket: Storage) -> None:
        """Each file copied unless the bucket has it already, with a progress line for each."""
        names = list(stored_names(local))
        copied = 0
        for done, name in enumerate(names, start=1):
            size = local.size(name)
            if already_there(bucket, name, size):
                outcome = "already in the bucket"
            else:
                with local.open(name, "rb") as file:
                    saved = bucket.save(name, file)
                if saved != name:
                    raise CommandError(f"The bucket stored {name} as {saved}; nothing links that.")
                copied += 1
                outcome = "copied"
            self.stdout.write(f"{progress(done, len(names))} {outcome}: {name}")
        already = len(names) - copied
        self.stdout.write(
            self.style.SUCCESS(f"Done: {copied} copied, {already} already in the bucket.")
        )
