"""Cancel: the member's own generation that was not sent to Rivya yet ends, and its credits come
back. Once it was sent (or may have been) there is nothing to cancel, and it says what to do."""

from __future__ import annotations

import pytest

from generations import errors
from generations.models import Generation, MemberBudget, Status
from tests.rows import generation
from tests.support import RESERVED_AND_RELEASED, ledger_entries_of, new_generation

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def cancel(client, row, **headers):
    return client.post(f"/generations/{row.pk}/cancel/", headers=headers)


def test_it_cancels_a_queued_one_and_gives_its_credits_back(alice, alice_client):
    row = new_generation(alice)
    assert MemberBudget.objects.get(user=alice).used == 8
    response = cancel(alice_client, row, **HTMX)
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.status, row.error_code) == (Status.FAILED, "cancelled")
    assert row.next_check_at is None  # nothing left to do: nothing was sent
    assert ledger_entries_of(row) == RESERVED_AND_RELEASED
    assert MemberBudget.objects.get(user=alice).used == 0


def test_it_answers_htmx_with_the_card_saying_so(alice, alice_client):
    row = new_generation(alice)
    body = cancel(alice_client, row, **HTMX).content.decode()
    assert f'id="gen-{row.pk}"' in body
    assert "You cancelled this image before it was sent to Rivya." in body
    assert "data-pending" not in body  # the card stops refreshing


def test_it_goes_back_where_the_form_was_without_javascript(alice, alice_client):
    row = new_generation(alice)
    response = alice_client.post(
        f"/generations/{row.pk}/cancel/", {"next": f"/generations/{row.pk}/"}, follow=True
    )
    assert response.redirect_chain == [(f"/generations/{row.pk}/", 302)]
    assert "Cancelled. Nothing was sent to Rivya" in response.content.decode()


def test_it_does_not_go_back_to_another_site(alice, alice_client):
    row = new_generation(alice)
    response = alice_client.post(f"/generations/{row.pk}/cancel/", {"next": "https://evil.test/"})
    assert response.url == "/"


@pytest.mark.parametrize(
    ("status", "attempts"),
    [(Status.SENDING, 1), (Status.PROCESSING, 1), (Status.QUEUED, 1)],
)
def test_it_refuses_one_that_was_or_may_have_been_sent(alice, alice_client, status, attempts):
    row = new_generation(alice)
    Generation.objects.filter(pk=row.pk).update(status=status, submit_attempts=attempts)
    response = cancel(alice_client, row, **HTMX)
    assert response.status_code == 409
    assert "Use “Stop waiting” instead" in response.content.decode()
    row.refresh_from_db()
    assert row.status == status
    assert ledger_entries_of(row) == [("reserve", 8)]


def test_it_says_so_without_javascript_when_it_cannot_cancel(alice, alice_client):
    row = generation(alice, Status.PROCESSING, submit_attempts=1)
    response = alice_client.post(f"/generations/{row.pk}/cancel/", follow=True)
    assert "can no longer be cancelled" in response.content.decode()


def test_it_refuses_a_finished_one(alice, alice_client):
    row = generation(alice)
    response = cancel(alice_client, row, **HTMX)
    assert response.status_code == 409
    assert "already finished" in response.content.decode()
    assert Generation.objects.get(pk=row.pk).status == Status.SUCCEEDED


def test_it_answers_404_to_another_member_and_changes_nothing(alice, bob_client):
    row = new_generation(alice)
    assert cancel(bob_client, row).status_code == 404
    row.refresh_from_db()
    assert row.status == Status.QUEUED
    assert ledger_entries_of(row) == [("reserve", 8)]


def test_it_refuses_get(alice, alice_client):
    row = new_generation(alice)
    assert alice_client.get(f"/generations/{row.pk}/cancel/").status_code == 405
    assert Generation.objects.get(pk=row.pk).status == Status.QUEUED


def test_it_requires_sign_in(alice, client):
    row = new_generation(alice)
    assert client.post(f"/generations/{row.pk}/cancel/").status_code == 302
    assert Generation.objects.get(pk=row.pk).status == Status.QUEUED


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_cancels_every_image_of_a_request_and_gives_all_its_credits_back(alice, alice_client):
    lead = new_generation(alice, count=3)
    assert MemberBudget.objects.get(user=alice).used == 24
    response = cancel(alice_client, lead, **HTMX)
    assert response.status_code == 200
    rows = Generation.objects.all()
    assert [(r.status, r.error_code) for r in rows] == [(Status.FAILED, "cancelled")] * 3
    assert all(ledger_entries_of(r) == RESERVED_AND_RELEASED for r in rows)
    assert MemberBudget.objects.get(user=alice).used == 0
    assert "data-pending" not in response.content.decode()


def test_it_cancels_the_images_not_yet_sent_and_leaves_the_others(alice, alice_client):
    lead = new_generation(alice, count=2)
    sent = Generation.objects.get(batch_lead=lead)
    Generation.objects.filter(pk=sent.pk).update(status=Status.PROCESSING, submit_attempts=1)
    assert cancel(alice_client, lead, **HTMX).status_code == 200
    assert Generation.objects.get(pk=lead.pk).error_code == "cancelled"
    assert Generation.objects.get(pk=sent.pk).status == Status.PROCESSING
    body = alice_client.get("/").content.decode()
    assert "Stop waiting" in body  # what is left to end for the one that was sent


def test_a_thai_members_cancel_is_stored_in_english(alice, alice_thai_client):
    """The stored words stay English whoever ends it (a worker stores English too); the page
    puts them in the reader's language (errors.member_words)."""
    row = new_generation(alice)
    assert cancel(alice_thai_client, row, **HTMX).status_code == 200
    row.refresh_from_db()
    assert row.error_message == errors.policy_for("cancelled").member_message
    assert row.error_message.startswith("You cancelled this image")
