"""Stored images are served (on the embedded default) to signed-in members only."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_file() -> str:
    return default_storage.save("generations/example.png", ContentFile(b"\x89PNG\r\n\x1a\nxx"))


def test_it_serves_media_to_a_member(alice_client, stored_file):
    response = alice_client.get(f"/media/{stored_file}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_it_sends_a_stranger_to_sign_in(client, stored_file):
    response = client.get(f"/media/{stored_file}")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
