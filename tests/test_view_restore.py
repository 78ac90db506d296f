"""Undo a delete: for ten seconds the member's deleted card offers "Undo", which brings it back.
Later it is too late (400, said plainly); someone else's, or one not deleted, is a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation, Status
from tests.rows import batch, generation

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def deleted(user, seconds_ago: float = 0):
    return generation(
        user, prompt="Back again", deleted_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def restore(client, row, **headers):
    return client.post(f"/generations/{row.pk}/restore/", headers=headers)


def test_it_brings_back_one_deleted_a_moment_ago_with_its_card(alice, alice_client):
    row = deleted(alice, seconds_ago=3)
    response = restore(alice_client, row, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="gen-{row.pk}"' in body
    assert "Back again" in body
    assert Generation.objects.get(pk=row.pk).deleted_at is None


def test_it_says_so_without_javascript(alice, alice_client):
    row = deleted(alice)
    response = alice_client.post(f"/generations/{row.pk}/restore/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    body = response.content.decode()
    assert "The image is back." in body
    assert f'id="gen-{row.pk}"' in body  # in the history again


def test_it_says_too_late_after_ten_seconds_and_changes_nothing(alice, alice_client):
    row = deleted(alice, seconds_ago=13)
    response = restore(alice_client, row, **HTMX)
    assert response.status_code == 400
    assert response.content.decode().startswith("Too late to undo")
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_says_too_late_without_javascript_too(alice, alice_client):
    row = deleted(alice, seconds_ago=60)
    response = alice_client.post(f"/generations/{row.pk}/restore/", follow=True)
    assert "Too late to undo" in response.content.decode()
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_answers_404_to_another_member_and_changes_nothing(alice, bob_client):
    row = deleted(alice)
    assert restore(bob_client, row).status_code == 404
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_answers_404_for_one_not_deleted(alice, alice_client):
    row = generation(alice)
    assert restore(alice_client, row).status_code == 404


def test_it_undoes_what_the_delete_did(alice, alice_client):
    row = generation(alice, prompt="Deleted by mistake")
    alice_client.post(f"/generations/{row.pk}/delete/", headers=HTMX)
    assert "Deleted by mistake" not in alice_client.get("/").content.decode()
    restore(alice_client, row, **HTMX)
    assert "Deleted by mistake" in alice_client.get("/").content.decode()


def test_it_refuses_get(alice, alice_client):
    row = deleted(alice)
    assert alice_client.get(f"/generations/{row.pk}/restore/").status_code == 405
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_requires_sign_in(alice, client):
    row = deleted(alice)
    assert client.post(f"/generations/{row.pk}/restore/").status_code == 302
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_brings_back_every_image_of_a_request(alice, alice_client):
    rows = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED)
    alice_client.post(f"/generations/{rows[0].pk}/delete/")
    assert restore(alice_client, rows[0]).status_code == 302
    assert Generation.objects.filter(deleted_at__isnull=True).count() == 3
