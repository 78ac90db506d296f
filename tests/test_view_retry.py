"""Retry: the member's own failed generation made again as a new one, with the same settings, a
new key and its own reservation; its card goes to the top. Anything else changes nothing."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest

from generations.models import Generation, LedgerEntry, MemberBudget, Status
from tests.rows import batch, generation
from tests.support import month_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued():
    with mock.patch("generations.tasks.submit_generation.delay") as delay:
        yield delay


def failed(user, **fields):
    fields.setdefault("prompt", "A kite over dunes")
    return generation(user, Status.FAILED, **fields)


def retry(client, row, token=None, **headers):
    data = {"form_token": str(token or uuid.uuid4())}
    return client.post(f"/generations/{row.pk}/retry/", data, headers=headers)


def newest():
    return Generation.objects.order_by("-pk").first()


def test_it_makes_a_new_generation_with_the_same_settings_and_enqueues_it_after_commit(
    alice, alice_client, enqueued, django_capture_on_commit_callbacks
):
    row = failed(alice, aspect_ratio="16:9", negative_prompt="people", seed=42)
    with django_capture_on_commit_callbacks(execute=True):
        response = retry(alice_client, row)
    assert response.status_code == 302
    again = newest()
    assert again.pk != row.pk
    assert again.uuid != row.uuid  # a new Idempotency-Key
    assert again.status == Status.QUEUED
    settings = ("prompt", "negative_prompt", "aspect_ratio", "model", "seed", "user_id")
    assert [getattr(again, f) for f in settings] == [getattr(row, f) for f in settings]
    assert again.seed_picked is False
    assert list(LedgerEntry.objects.filter(generation=again).values_list("kind", "credits")) == [
        ("reserve", 8)
    ]
    enqueued.assert_called_once_with(again.pk)


def test_it_answers_htmx_with_the_new_card_for_the_top_of_the_history(
    alice, alice_client, enqueued
):
    row = failed(alice)
    response = retry(alice_client, row, **{"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="gen-{newest().pk}"' in body
    assert f'id="gen-{row.pk}"' not in body


def test_it_says_so_without_javascript(alice, alice_client, enqueued):
    response = alice_client.post(
        f"/generations/{failed(alice).pk}/retry/", {"form_token": str(uuid.uuid4())}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    assert "Trying again: your new image is on its way." in response.content.decode()


def test_it_makes_one_generation_for_a_button_pressed_twice(alice, alice_client, enqueued):
    row = failed(alice)
    token = uuid.uuid4()
    retry(alice_client, row, token)
    retry(alice_client, row, token)
    assert Generation.objects.count() == 2  # the failed one and one retry
    assert LedgerEntry.objects.count() == 1


def test_it_lets_the_studio_pick_a_new_seed_when_it_picked_the_first(alice, alice_client, enqueued):
    row = failed(alice, seed=12345, seed_picked=True)
    retry(alice_client, row)
    again = newest()
    assert again.seed_picked is True
    assert again.seed is not None


def test_it_refuses_an_unfinished_or_succeeded_one_and_changes_nothing(
    alice, alice_client, enqueued
):
    for status in (Status.SUCCEEDED, Status.PROCESSING):
        row = generation(alice, status)
        response = retry(alice_client, row, **{"HX-Request": "true"})
        assert response.status_code == 400
        assert "Only a failed image can be tried again." in response.content.decode()
    assert Generation.objects.count() == 2
    assert LedgerEntry.objects.count() == 0
    enqueued.assert_not_called()


@pytest.mark.parametrize("token", ["", "not-a-uuid"])
def test_it_refuses_a_button_without_its_token(alice, alice_client, enqueued, token):
    row = failed(alice)
    response = alice_client.post(
        f"/generations/{row.pk}/retry/", {"form_token": token}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "out of date" in response.content.decode()
    assert Generation.objects.count() == 1


def test_it_says_when_the_budget_is_short_and_saves_nothing(alice, alice_client, enqueued):
    MemberBudget.objects.create(user=alice, monthly_limit=5)
    row = failed(alice)
    response = retry(alice_client, row, **{"HX-Request": "true"})
    assert response.status_code == 400
    assert f"This needs 8 credits; 5 of 5 are left in {month_name()}." in response.content.decode()
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.count() == 0
    assert MemberBudget.objects.get(user=alice).used == 0
    enqueued.assert_not_called()


def test_it_says_when_the_model_is_not_offered_any_more(alice, alice_client, enqueued):
    row = failed(alice, model="google-imagen4-retired")
    response = alice_client.post(
        f"/generations/{row.pk}/retry/", {"form_token": str(uuid.uuid4())}, follow=True
    )
    body = response.content.decode()
    assert "google-imagen4-retired is not offered any more" in body
    assert "Reuse settings" in body
    assert Generation.objects.count() == 1


def test_it_answers_404_for_another_members_failed_one(alice, bob_client, enqueued):
    row = failed(alice)
    assert retry(bob_client, row).status_code == 404
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.count() == 0


def test_it_refuses_get(alice, alice_client):
    assert alice_client.get(f"/generations/{failed(alice).pk}/retry/").status_code == 405


def test_it_requires_sign_in(alice, client):
    row = failed(alice)
    response = client.post(f"/generations/{row.pk}/retry/", {"form_token": str(uuid.uuid4())})
    assert response.status_code == 302
    assert Generation.objects.count() == 1


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_makes_a_failed_request_again_with_the_same_count(
    alice, alice_client, enqueued, django_capture_on_commit_callbacks
):
    lead, *_ = batch(alice, Status.FAILED, Status.FAILED, Status.FAILED, prompt="Kites")
    with django_capture_on_commit_callbacks(execute=True):
        response = retry(alice_client, lead)
    assert response.status_code == 302
    again = list(Generation.objects.filter(prompt="Kites", status=Status.QUEUED))
    assert len(again) == 3
    assert sorted(r.batch_position for r in again) == [0, 1, 2]
    assert LedgerEntry.objects.filter(generation__in=again, kind="reserve").count() == 3
    assert enqueued.call_count == 3


def test_it_refuses_a_request_with_an_image_that_was_made(alice, alice_client, enqueued):
    lead, _ = batch(alice, Status.FAILED, Status.SUCCEEDED)
    response = retry(alice_client, lead, **{"HX-Request": "true"})
    assert response.status_code == 400
    assert "Only a failed image can be tried again" in response.content.decode()
    assert Generation.objects.count() == 2
    enqueued.assert_not_called()
