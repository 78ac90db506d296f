"""The detail page: the full image and every fact about one generation, for the whole team."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Status
from tests.rows import generation

pytestmark = pytest.mark.django_db


def test_it_requires_sign_in(client, alice):
    row = generation(alice)
    response = client.get(f"/generations/{row.pk}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_shows_the_full_image_and_the_settings(alice, alice_client):
    row = generation(
        alice, prompt="A fox in snow", aspect_ratio="16:9", seed=7, negative_prompt="blurry signage"
    )
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert f'src="{row.image.url}"' in body
    assert "A fox in snow" in body
    assert "16:9 · seed 7" in body
    assert "blurry signage" in body
    assert "8 charged" in body


def test_it_shows_another_members_generation_without_delete(alice, bob, alice_client):
    row = generation(bob, prompt="Bob's bridge")
    response = alice_client.get(f"/generations/{row.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Bob&#x27;s bridge" in body
    assert f"/generations/{row.pk}/delete/" not in body


def test_it_offers_delete_to_the_owner_of_a_finished_one(alice, alice_client):
    row = generation(alice)
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert f'action="/generations/{row.pk}/delete/"' in body


def test_it_says_what_happened_to_a_failed_one(alice, alice_client):
    row = generation(alice, Status.FAILED, error_message="The prompt was refused. Reword it.")
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert "The prompt was refused. Reword it." in body
    assert "<img" not in body


def test_it_says_an_unfinished_one_is_on_its_way(alice, alice_client):
    row = generation(alice, Status.PROCESSING)
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert "Processing" in body
    assert f"/generations/{row.pk}/delete/" not in body


@pytest.mark.parametrize("pk", ["deleted", 999999])
def test_it_answers_404_for_a_deleted_or_unknown_one(alice, alice_client, pk):
    if pk == "deleted":
        pk = generation(alice, deleted_at=timezone.now()).pk
    assert alice_client.get(f"/generations/{pk}/").status_code == 404
