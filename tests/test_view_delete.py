"""Deleting: the owner hides a finished generation; the credit ledger keeps its rows."""

from __future__ import annotations

import pytest

from generations.models import Generation, LedgerEntry, Status
from tests.rows import batch, generation, ledger_entry

pytestmark = pytest.mark.django_db


def finished_with_ledger(user):
    row = generation(user, prompt="To be deleted")
    ledger_entry(row, "reserve", 8)
    ledger_entry(row, "charge", 8)
    return row


def test_it_hides_the_owners_finished_generation_and_keeps_the_ledger(alice, alice_client):
    row = finished_with_ledger(alice)
    response = alice_client.post(f"/generations/{row.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "Deleted." in response.content.decode()
    assert "To be deleted" not in response.content.decode()
    row.refresh_from_db()
    assert row.deleted_at is not None
    assert LedgerEntry.objects.filter(generation=row).count() == 2


def test_it_answers_htmx_with_deleted_and_undo_in_the_cards_place(alice, alice_client):
    row = finished_with_ledger(alice)
    response = alice_client.post(f"/generations/{row.pk}/delete/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="gen-{row.pk}"' in body  # takes the card's place
    assert "To be deleted" not in body
    assert "Deleted" in body
    assert f'hx-post="/generations/{row.pk}/restore/"' in body
    assert 'data-remove-after="10"' in body  # app.js takes it away after ten seconds
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_answers_404_to_another_member_and_changes_nothing(alice, bob, bob_client):
    row = finished_with_ledger(alice)
    response = bob_client.post(f"/generations/{row.pk}/delete/")
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.deleted_at is None
    assert LedgerEntry.objects.filter(generation=row).count() == 2


def test_it_refuses_an_unfinished_one_with_a_message(alice, alice_client):
    row = generation(alice, Status.PROCESSING)
    response = alice_client.post(f"/generations/{row.pk}/delete/", follow=True)
    assert "still being made; delete it once it is done" in response.content.decode()
    row.refresh_from_db()
    assert row.deleted_at is None


def test_it_keeps_the_card_of_an_unfinished_one_for_htmx(alice, alice_client):
    row = generation(alice, Status.PROCESSING)
    response = alice_client.post(f"/generations/{row.pk}/delete/", headers={"HX-Request": "true"})
    assert f'id="gen-{row.pk}"' in response.content.decode()
    assert Generation.objects.get(pk=row.pk).deleted_at is None


def test_it_answers_404_for_one_already_deleted(alice, alice_client):
    row = finished_with_ledger(alice)
    alice_client.post(f"/generations/{row.pk}/delete/")
    assert alice_client.post(f"/generations/{row.pk}/delete/").status_code == 404


def test_it_refuses_get(alice, alice_client):
    row = generation(alice)
    assert alice_client.get(f"/generations/{row.pk}/delete/").status_code == 405
    assert Generation.objects.get(pk=row.pk).deleted_at is None


def test_it_requires_sign_in(alice, client):
    row = generation(alice)
    response = client.post(f"/generations/{row.pk}/delete/")
    assert response.status_code == 302
    assert Generation.objects.get(pk=row.pk).deleted_at is None


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_deletes_every_image_of_a_request(alice, alice_client):
    rows = batch(alice, Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED)
    alice_client.post(f"/generations/{rows[0].pk}/delete/")
    assert Generation.objects.filter(deleted_at__isnull=True).count() == 0


def test_it_waits_until_every_image_of_a_request_is_finished(alice, alice_client):
    rows = batch(alice, Status.SUCCEEDED, Status.PROCESSING)
    response = alice_client.post(f"/generations/{rows[0].pk}/delete/", follow=True)
    assert "still being made" in response.content.decode()
    assert Generation.objects.filter(deleted_at__isnull=True).count() == 2
