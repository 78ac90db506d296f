"""``manage.py move_media_to_bucket``: a team that kept its images on one machine's disk copies
them into the bucket it now uses, with a progress line per file; a rerun (or a run after an
interrupted one) copies only what is missing."""

from __future__ import annotations

import io

import httpx
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import CommandError, call_command

from tests.rows import generation

pytestmark = pytest.mark.django_db


def kept_on_disk(*rows) -> list[str]:
    """Move the rows' files from the bucket to the local media folder, as a team that started on
    one machine has them; returns their names."""
    local = FileSystemStorage(location=settings.MEDIA_ROOT)
    names = sorted(str(f.name) for row in rows for f in (row.image, row.thumbnail))
    for name in names:
        with default_storage.open(name) as file:
            local.save(name, ContentFile(file.read()))
        default_storage.delete(name)
    return names


def move() -> str:
    out = io.StringIO()
    call_command("move_media_to_bucket", stdout=out)
    return out.getvalue()


@pytest.mark.services
def test_it_copies_every_local_file_into_the_bucket_with_progress(s3_media, alice, alice_client):
    row = generation(alice)
    names = kept_on_disk(row, generation(alice))
    output = move()
    assert all(default_storage.exists(name) for name in names)
    assert f"[######..................] 1/4 copied: {names[0]}" in output
    assert f"[########################] 4/4 copied: {names[3]}" in output
    assert "Done: 4 copied, 0 already in the bucket." in output
    signed = alice_client.get(f"/media/{row.image.name}")["Location"]
    assert httpx.get(signed).status_code == 200  # the page's link works at once


@pytest.mark.services
def test_a_second_run_copies_nothing(s3_media, alice):
    kept_on_disk(generation(alice))
    move()
    assert "Done: 0 copied, 2 already in the bucket." in move()


@pytest.mark.services
def test_it_resumes_copying_only_what_is_missing_or_different(s3_media, alice):
    image, thumbnail = kept_on_disk(generation(alice))
    default_storage.save(image, ContentFile(b"cut short"))  # not the same size: copied again
    local = FileSystemStorage(location=settings.MEDIA_ROOT)
    with local.open(thumbnail) as file:
        default_storage.save(thumbnail, ContentFile(file.read()))
    output = move()
    assert "Done: 1 copied, 1 already in the bucket." in output
    assert default_storage.size(image) == local.size(image)


def test_it_refuses_while_images_are_kept_in_the_local_folder(local_media):
    with pytest.raises(CommandError, match="set AWS_STORAGE_BUCKET_NAME"):
        move()
