"""The refresh endpoint: one request answers every pending card of a page as out-of-band swaps."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from generations import lifecycle
from generations.models import Favorite, Generation, Status
from generations.rivya import get_client
from tests.rows import batch, generation
from tests.support import page_text, rivya_failing_since

pytestmark = pytest.mark.django_db


def card_ids(body: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article id="gen-(\d+)"[^>]*hx-swap-oob="true"', body)]


def query(*ids: object) -> str:
    return "/generations/cards/?" + "&".join(f"id={i}" for i in ids)


def test_it_requires_sign_in(client, alice):
    row = generation(alice, Status.PROCESSING)
    response = client.get(query(row.pk))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_returns_each_requested_card_out_of_band(alice, alice_client):
    pending = generation(alice, Status.PROCESSING, prompt="still cooking")
    done = generation(alice, prompt="all done")
    body = alice_client.get(query(pending.pk, done.pk)).content.decode()
    assert sorted(card_ids(body)) == sorted([pending.pk, done.pk])
    assert f'data-pending="{pending.pk}"' in body
    assert f'data-pending="{done.pk}"' not in body  # a finished card stops the polling
    assert "<img" in body


def test_it_says_what_went_wrong_on_a_failed_card(alice, alice_client):
    row = generation(alice, Status.FAILED, error_message="The prompt was refused. Reword it.")
    body = alice_client.get(query(row.pk)).content.decode()
    assert "Failed" in body
    assert "The prompt was refused. Reword it." in body


def test_it_ignores_unknown_deleted_and_malformed_ids(alice, alice_client):
    kept = generation(alice, Status.QUEUED)
    deleted = generation(alice, prompt="gone", deleted_at=timezone.now())
    response = alice_client.get(query(kept.pk, deleted.pk, 999999, "abc", "-3"))
    assert response.status_code == 200
    assert card_ids(response.content.decode()) == [kept.pk]


def test_it_answers_no_ids_with_no_card_and_the_banner_hidden(alice_client):
    response = alice_client.get("/generations/cards/")
    body = response.content.decode()
    assert response.status_code == 200
    assert card_ids(body) == []
    assert page_text(body).strip() == (
        '<div id="rivya-banner" class="warning rivya-banner" role="status" data-state="" '
        'hx-swap-oob="true" hidden> </div>'
    )


def test_it_shows_another_members_card_without_a_delete_button(alice, bob, alice_client):
    bobs = generation(bob, prompt="bob's finished one")
    alices = generation(alice, prompt="alice's finished one")
    body = alice_client.get(query(bobs.pk)).content.decode()
    assert card_ids(body) == [bobs.pk]
    assert f"/generations/{bobs.pk}/delete/" not in body
    own = alice_client.get(query(alices.pk)).content.decode()
    assert f"/generations/{alices.pk}/delete/" in own


def test_it_offers_no_delete_button_on_an_unfinished_card(alice, alice_client):
    row = generation(alice, Status.PROCESSING)
    body = alice_client.get(query(row.pk)).content.decode()
    assert f"/generations/{row.pk}/delete/" not in body


@pytest.mark.parametrize("count", [1, 10, 50])
def test_it_uses_the_same_few_queries_however_many_cards(
    alice, bob, alice_client, django_assert_num_queries, count
):
    rows = [generation((alice, bob)[i % 2], Status.PROCESSING) for i in range(count)]
    alice_client.get("/")  # the session is warm, as on a real page
    # The session, the member, and the generations (every image of their requests) with their
    # members: one query each.
    with django_assert_num_queries(3):
        response = alice_client.get(query(*(r.pk for r in rows)))
    assert len(card_ids(response.content.decode())) == count


def test_it_refuses_post(alice_client):
    assert alice_client.post("/generations/cards/").status_code == 405


# -- The Rivya banner rides along, out of band ---------------------------------------------------

BANNER = re.compile(r'<div id="rivya-banner"[^>]*hx-swap-oob="true"[^>]*>(.*?)</div>', re.S)


def banner(body: str) -> str:
    found = BANNER.search(body)
    assert found, "the refresh carries no banner"
    return found.group(1)


def test_it_carries_the_banner_while_rivya_is_down(alice, alice_client):
    row = generation(alice, Status.QUEUED, submit_attempts=1, next_check_at=timezone.now())
    rivya_failing_since(120)
    body = alice_client.get(query(row.pk)).content.decode()
    assert "has not been working since" in banner(body)
    assert "Waiting for Rivya: attempt 1 did not go through" in body


def test_it_takes_the_banner_away_once_rivya_answers(alice, alice_client, sim):
    row = generation(alice, Status.QUEUED)
    rivya_failing_since(120)
    assert "has not been working" in banner(alice_client.get(query(row.pk)).content.decode())
    get_client().get_credits()  # a worker's call succeeds: the client notes it
    body = alice_client.get(query(row.pk)).content.decode()
    assert banner(body).strip() == ""
    assert re.search(r'<div id="rivya-banner"[^>]*hidden', body)


def test_it_carries_the_banner_without_any_card(alice, alice_client):
    generation(alice, Status.PROCESSING)  # someone's work waits, not on this page
    rivya_failing_since(120)
    body = alice_client.get("/generations/cards/").content.decode()
    assert card_ids(body) == []
    assert "has not been working since" in banner(body)


def test_it_keeps_the_members_own_star_on_a_refreshed_card(alice, bob, alice_client):
    row = generation(bob, Status.PROCESSING)
    Favorite.objects.create(user=alice, generation=row)
    body = alice_client.get(query(row.pk)).content.decode()
    assert 'aria-pressed="true"' in body


# -- Only what changed: the page sends what it has, and gets back what is new --------------------

PENDING = re.compile(r'data-pending="(\d+)"\s+data-version="([\d-]+)"')  # a request: one per image
STATE = re.compile(r'<div id="rivya-banner"[^>]*data-state="([^"]*)"')


def what_the_page_has(body: str, banner_from: str = "") -> str:
    """The refresh query app.js sends for a page: each pending card as ``id=<pk>:<version>``,
    and the banner's state, read from the page as drawn (the banner from ``banner_from`` when
    an answer has replaced it)."""
    query = [("id", f"{pk}:{version}") for pk, version in PENDING.findall(body)]
    state = STATE.search(banner_from or body)
    assert state, "the page has no banner"
    return "/generations/cards/?" + urlencode([*query, ("banner", state.group(1))])


def test_it_answers_204_with_an_empty_body_when_nothing_changed(alice, alice_client):
    generation(alice, Status.PROCESSING)
    generation(alice, Status.QUEUED)
    response = alice_client.get(what_the_page_has(alice_client.get("/").content.decode()))
    assert response.status_code == 204
    assert response.content == b""


def test_it_answers_only_the_card_that_changed(alice, alice_client):
    still = generation(alice, Status.PROCESSING)
    moving = generation(alice, Status.PROCESSING)
    refresh = what_the_page_has(alice_client.get("/").content.decode())
    Generation.objects.filter(pk=moving.pk, status=Status.PROCESSING).update(
        status=Status.DOWNLOADING, status_note="Rivya finished; saving the image."
    )
    body = alice_client.get(refresh).content.decode()
    assert card_ids(body) == [moving.pk]
    assert "Rivya finished; saving the image." in body
    assert f"gen-{still.pk}" not in body
    assert alice_client.get(what_the_page_has(body)).status_code == 204  # the page is up to date


def test_it_answers_a_card_a_worker_finished_with_its_image(alice, alice_client):
    row = generation(alice, Status.PROCESSING)
    refresh = what_the_page_has(alice_client.get("/").content.decode())
    lifecycle.fail(row, "generation_failed", "Rivya could not make this image.")
    body = alice_client.get(refresh).content.decode()
    assert card_ids(body) == [row.pk]
    assert "Rivya could not make this image." in body
    assert "data-pending" not in body  # finished: the page stops asking for it


def test_every_update_of_a_row_moves_its_version(alice):
    row = generation(alice, Status.PROCESSING)
    before = Generation.objects.get(pk=row.pk)
    # A claim-style conditional UPDATE, which Django's auto_now leaves alone by itself.
    assert Generation.objects.filter(pk=row.pk, status=Status.PROCESSING).update(poll_count=1)
    after = Generation.objects.get(pk=row.pk)
    assert after.updated_at > before.updated_at
    assert after.version != before.version


def test_it_answers_the_banner_when_rivya_goes_down(alice, alice_client):
    generation(alice, Status.QUEUED)
    page = alice_client.get("/").content.decode()
    rivya_failing_since(120)
    response = alice_client.get(what_the_page_has(page))
    body = response.content.decode()
    assert response.status_code == 200
    assert card_ids(body) == []  # no card changed; the banner alone
    assert "has not been working since" in banner(body)
    assert alice_client.get(what_the_page_has(page, banner_from=body)).status_code == 204


def test_it_answers_the_banner_when_rivya_comes_back(alice, alice_client, sim):
    generation(alice, Status.QUEUED)
    rivya_failing_since(120)
    page = alice_client.get("/").content.decode()
    assert alice_client.get(what_the_page_has(page)).status_code == 204  # still down
    get_client().get_credits()  # a worker's call succeeds: the client notes it
    body = alice_client.get(what_the_page_has(page)).content.decode()
    assert banner(body).strip() == ""
    assert re.search(r'<div id="rivya-banner"[^>]*hidden', body)


@pytest.mark.parametrize("version", ["", "abc", "-1", "\uff11\uff12", "9" * 400, "1:2"])
def test_it_answers_a_card_in_full_when_its_version_is_not_one(alice, alice_client, version):
    row = generation(alice, Status.PROCESSING)
    response = alice_client.get(f"/generations/cards/?id={row.pk}:{version}&banner=")
    assert response.status_code == 200
    assert card_ids(response.content.decode()) == [row.pk]


def test_it_answers_the_banner_when_its_state_is_not_one(alice_client):
    response = alice_client.get("/generations/cards/?banner=nonsense")
    assert response.status_code == 200
    assert banner(response.content.decode()).strip() == ""


def test_it_uses_the_same_few_queries_when_nothing_changed(
    alice, alice_client, django_assert_num_queries
):
    for _ in range(10):
        generation(alice, Status.PROCESSING)
    refresh = what_the_page_has(alice_client.get("/").content.decode())
    with django_assert_num_queries(3):
        assert alice_client.get(refresh).status_code == 204


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_answers_one_card_for_a_request_and_keeps_it_pending_until_every_image_is_in(
    alice, alice_client
):
    lead, _, third = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.PROCESSING)
    body = alice_client.get(query(lead.pk)).content.decode()
    assert card_ids(body) == [lead.pk]
    assert f'data-pending="{lead.pk}"' in body
    assert page_text(body).count("<img ") == 2  # two images are in; the third is on its way
    assert "2 of 3 done" in page_text(body)
    Generation.objects.filter(pk=third.pk).update(status=Status.FAILED)
    body = alice_client.get(query(lead.pk)).content.decode()
    assert "data-pending" not in body
    assert "2 of 3 done · 1 failed" in page_text(body)


def test_it_never_answers_a_card_for_an_image_that_is_not_a_requests_first(alice, alice_client):
    _, follower = batch(alice, Status.PROCESSING, Status.PROCESSING)
    assert card_ids(alice_client.get(query(follower.pk)).content.decode()) == []


def test_it_reads_every_image_of_the_requests_in_the_same_few_queries(
    alice, alice_client, django_assert_num_queries
):
    leads = [batch(alice, *[Status.PROCESSING] * 4)[0] for _ in range(10)]
    alice_client.get("/")
    with django_assert_num_queries(3):
        response = alice_client.get(query(*(lead.pk for lead in leads)))
    body = response.content.decode()
    assert len(card_ids(body)) == 10
    assert body.count('class="spinner"') == 40


def test_it_answers_a_requests_card_when_any_of_its_images_changed(alice, alice_client):
    lead, follower = batch(alice, Status.PROCESSING, Status.PROCESSING)
    refresh = what_the_page_has(alice_client.get("/").content.decode())
    assert alice_client.get(refresh).status_code == 204
    Generation.objects.filter(pk=follower.pk).update(status=Status.SUCCEEDED)
    body = alice_client.get(refresh).content.decode()
    assert card_ids(body) == [lead.pk]
    assert "1 of 2 done" in page_text(body)
