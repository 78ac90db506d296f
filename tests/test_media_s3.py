"""Images in a private S3-compatible bucket (AWS_STORAGE_BUCKET_NAME), against a real server
(moto's, with S3's checks of a signed URL: tests/s3_server.py): pages link an image through the
studio, which lets a signed-in member of a live generation follow a redirect to a signed URL
that soon stops working; downloads and board zips read the bucket. Nothing is kept on disk."""

from __future__ import annotations

import io
import re
import time
import zipfile

import httpx
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from generations.models import Board, BoardItem, Generation, Status
from tests.rows import generation
from tests.support import (
    files_on_disk,
    new_generation,
    opened,
    png_bytes,
    run_until_finished,
    wait_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def bucket_keys(s3_server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def first_image_link(page: str) -> str:
    """The first thumbnail a page shows: a studio URL, never the bucket's."""
    match = re.search(r'<img src="([^"]+)"', page)
    assert match, "the page shows no image"
    return match.group(1)


def signed_url_of(client, link: str) -> str:
    """Where the studio sends a member who follows ``link``."""
    response = client.get(link)
    assert response.status_code == 302
    return str(response["Location"])


def test_it_keeps_originals_and_thumbnails_in_the_bucket(s3_server, s3_media, alice):
    row = generation(alice)
    assert bucket_keys(s3_server, s3_media) == sorted(
        [str(row.image.name), str(row.thumbnail.name)]
    )
    assert files_on_disk() == []  # nothing on this machine's disk


def test_it_stores_a_result_the_worker_downloaded_in_the_bucket(s3_server, s3_media, sim, alice):
    row = run_until_finished(new_generation(alice))
    assert row.status == Status.SUCCEEDED
    keys = bucket_keys(s3_server, s3_media)
    assert keys == sorted([str(row.image.name), str(row.thumbnail.name)])
    assert opened(default_storage.open(str(row.thumbnail.name)).read()).format == "WEBP"
    assert files_on_disk() == []


def test_a_page_links_an_image_through_a_signed_url_that_works(
    s3_server, s3_media, alice, bob_client
):
    row = generation(alice)
    link = first_image_link(bob_client.get("/").content.decode())
    assert link == f"/media/{row.thumbnail.name}"
    response = bob_client.get(link)
    signed = response["Location"]
    assert signed.startswith(f"{s3_server.url}/{s3_media}/{row.thumbnail.name}?")
    assert "X-Amz-Expires=600&" in signed
    assert response["Cache-Control"] == "private, max-age=300"
    fetched = httpx.get(signed)
    assert fetched.status_code == 200
    assert fetched.content == png_bytes()


def test_a_signed_url_stops_working_when_it_expires(
    s3_server, s3_media, settings, alice, alice_client
):
    settings.AWS_QUERYSTRING_EXPIRE = 1  # read when the storage is first used, just below
    row = generation(alice)
    # A signature's time is in whole seconds: signed just after one begins, the URL has nearly
    # all of its second left (signed at its end, it would be stale before the first GET).
    time.sleep(1.02 - time.time() % 1)
    signed = signed_url_of(alice_client, f"/media/{row.image.name}")
    assert httpx.get(signed).status_code == 200
    expired = wait_for(
        lambda: (answer := httpx.get(signed)).status_code == 403 and answer, timeout=5
    )
    assert "Request has expired" in expired.text


def test_the_bucket_itself_gives_nothing_without_a_signature(
    s3_server, s3_media, alice, alice_client
):
    row = generation(alice)
    assert httpx.get(f"{s3_server.url}/{s3_media}/{row.image.name}").status_code == 403
    signed = signed_url_of(alice_client, f"/media/{row.image.name}")
    tampered = signed.replace("X-Amz-Expires=600", "X-Amz-Expires=900")
    assert httpx.get(tampered).status_code == 403


def test_a_signed_out_browser_gets_no_image(s3_media, alice, client):
    row = generation(alice)
    response = client.get(f"/media/{row.image.name}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_deleted_generations_images_are_unreachable(s3_media, alice, alice_client):
    row = generation(alice)
    Generation.objects.filter(pk=row.pk).update(deleted_at=timezone.now())
    for name in (row.image.name, row.thumbnail.name):
        assert alice_client.get(f"/media/{name}").status_code == 404


def test_a_download_reads_the_original_from_the_bucket(s3_media, alice, bob_client):
    row = generation(alice)
    response = bob_client.get(f"/generations/{row.pk}/download/")
    assert response.status_code == 200
    assert opened(b"".join(response.streaming_content)).size == (128, 128)


def test_a_download_of_a_file_gone_from_the_bucket_is_404(s3_media, alice, alice_client):
    row = generation(alice)
    default_storage.delete(str(row.image.name))
    assert alice_client.get(f"/generations/{row.pk}/download/").status_code == 404


def test_a_board_zip_reads_the_bucket_and_names_what_is_gone(s3_media, alice, alice_client):
    board = Board.objects.create(name="Harbours", maker=alice)
    for prompt in ("Kept in the bucket", "Gone from the bucket"):
        BoardItem.objects.create(
            board=board, generation=generation(alice, prompt=prompt), added_by=alice
        )
    default_storage.delete(str(Generation.objects.get(prompt="Gone from the bucket").image.name))
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["kept-in-the-bucket.png", "missing-images.txt"]
    assert archive.read("kept-in-the-bucket.png") == png_bytes(128, 128)
    assert "- Gone from the bucket" in archive.read("missing-images.txt").decode()
