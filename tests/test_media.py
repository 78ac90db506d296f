"""Stored images are served (on the embedded default) to signed-in members only, and only while
the generation that owns them is not deleted (more in tests/faults/test_audit.py, fault 40)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generations.models import Generation
from imagen_site.settings import media_origins
from tests.rows import generation
from tests.support import settings_refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_file(alice) -> str:
    return str(generation(alice).image.name)


def test_it_serves_media_to_a_member_from_the_folder(bob, client, local_media, stored_file):
    client.force_login(bob)  # the team's images: any member, not only the owner
    response = client.get(f"/media/{stored_file}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_it_sends_a_stranger_to_sign_in(client, stored_file):
    response = client.get(f"/media/{stored_file}")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_answers_404_for_a_deleted_generations_image(alice_client, stored_file):
    Generation.objects.update(deleted_at=timezone.now())
    assert alice_client.get(f"/media/{stored_file}").status_code == 404


def test_it_answers_404_for_a_file_no_generation_owns(alice_client):
    name = default_storage.save("generations/example.png", ContentFile(b"\x89PNG\r\n\x1a\nxx"))
    assert alice_client.get(f"/media/{name}").status_code == 404


def test_it_answers_404_for_the_media_folder_itself(alice_client, stored_file):
    assert alice_client.get("/media/").status_code == 404
    assert alice_client.get("/media/generations/").status_code == 404


# Images in a bucket (more in tests/test_media_s3.py, against a real S3-compatible server)


def test_it_allows_pages_to_show_images_from_the_bucket():
    assert media_origins("", None, None) == ""
    assert media_origins("pics", "http://127.0.0.1:9000", None) == (
        "http://127.0.0.1:9000,http://pics.127.0.0.1:9000"
    )
    assert media_origins("pics", None, "eu-west-1") == (
        "https://pics.s3.amazonaws.com,https://pics.s3.eu-west-1.amazonaws.com"
    )


@pytest.mark.parametrize("seconds", ["0", "901", "ten"])
def test_it_refuses_a_signed_url_that_would_last_too_long(seconds):
    assert "AWS_QUERYSTRING_EXPIRE must be" in settings_refused({"AWS_QUERYSTRING_EXPIRE": seconds})
