"""Stop waiting: the member's own generation that Rivya already has ends here, and its credits
come back; Rivya cannot be asked to stop, so a late result still appears and is then the one
charge (tests/test_lifecycle_endings.py follows that through)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation, MemberBudget, Status
from tests.rows import generation
from tests.support import RESERVED_AND_RELEASED, ledger_entries_of, new_generation

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def sent(user, **changes):
    """A generation Rivya accepted: reserved, processing, with its remote task id."""
    row = new_generation(user)
    changes = {"status": Status.PROCESSING, "remote_task_id": f"task_{row.pk:024x}", **changes}
    Generation.objects.filter(pk=row.pk).update(submit_attempts=1, **changes)
    row.refresh_from_db()
    return row


def stop(client, row, **headers):
    return client.post(f"/generations/{row.pk}/stop/", headers=headers)


def test_it_ends_a_sent_one_gives_its_credits_back_and_keeps_looking(alice, alice_client):
    row = sent(alice)
    response = stop(alice_client, row, **HTMX)
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.status, row.error_code) == (Status.FAILED, "stopped_waiting")
    assert ledger_entries_of(row) == RESERVED_AND_RELEASED
    assert MemberBudget.objects.get(user=alice).used == 0
    assert row.next_check_at is not None  # the late check looks for Rivya's result
    assert row.remote_task_id in row.admin_message


def test_it_tells_the_member_a_late_result_is_still_charged(alice, alice_client):
    row = sent(alice)
    body = stop(alice_client, row, **HTMX).content.decode()
    assert f'id="gen-{row.pk}"' in body
    assert "You stopped waiting for this image" in body
    assert "if it finishes after all, the image will appear here" in body


def test_it_says_so_without_javascript(alice, alice_client):
    row = sent(alice)
    response = alice_client.post(f"/generations/{row.pk}/stop/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "its credits will be charged then" in response.content.decode()


def test_it_asks_to_cancel_one_that_was_never_sent(alice, alice_client):
    row = new_generation(alice)
    response = stop(alice_client, row, **HTMX)
    assert response.status_code == 409
    assert "has not been sent to Rivya yet. Cancel it instead." in response.content.decode()
    assert Generation.objects.get(pk=row.pk).status == Status.QUEUED


def test_it_never_overtakes_a_worker_in_the_middle_of_a_step(alice, alice_client):
    row = sent(alice, lease_until=timezone.now() + timedelta(seconds=60))
    response = stop(alice_client, row, **HTMX)
    assert response.status_code == 409
    assert "Try again in a moment." in response.content.decode()
    row.refresh_from_db()
    assert row.status == Status.PROCESSING
    assert ledger_entries_of(row) == [("reserve", 8)]


def test_it_refuses_a_finished_one(alice, alice_client):
    row = generation(alice, Status.FAILED)
    assert stop(alice_client, row, **HTMX).status_code == 409


def test_it_answers_404_to_another_member_and_changes_nothing(alice, bob_client):
    row = sent(alice)
    assert stop(bob_client, row).status_code == 404
    row.refresh_from_db()
    assert row.status == Status.PROCESSING
    assert ledger_entries_of(row) == [("reserve", 8)]


def test_it_refuses_get(alice, alice_client):
    row = sent(alice)
    assert alice_client.get(f"/generations/{row.pk}/stop/").status_code == 405


def test_it_requires_sign_in(alice, client):
    row = sent(alice)
    assert client.post(f"/generations/{row.pk}/stop/").status_code == 302
    assert Generation.objects.get(pk=row.pk).status == Status.PROCESSING
