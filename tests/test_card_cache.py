"""A finished card's pictures and words are drawn once and kept in the "cards" cache
(templates/generations/home.html), by the request's version, language and time zone: what a
member sees must be what drawing it afresh would show, whoever drew it first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core.cache import caches

from generations.models import Generation, MemberPreference, Status
from tests.rows import batch, generation
from tests.support import page_text, signed_in

pytestmark = pytest.mark.django_db


def card_of(client, row: Generation) -> str:
    """The words of ``row``'s card on the studio page, tags left out."""
    html = client.get("/").content.decode()
    start = html.index(f'id="gen-{row.pk}"')
    return page_text(re.sub(r"<[^>]*>", " ", html[start : html.index("</article>", start)]))


def test_a_change_to_the_row_is_seen_at_once(alice, alice_client):
    row = generation(alice, prompt="A lighthouse at noon")
    assert "Done" in card_of(alice_client, row)
    Generation.objects.filter(pk=row.pk).update(
        status=Status.FAILED, error_code="generation_failed", error_message="It failed."
    )
    words = card_of(alice_client, row)
    assert "Failed" in words
    assert "No image" in words


def test_a_request_whose_follower_changes_is_drawn_again(alice, alice_client):
    lead, follower = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED)
    assert "2 of 2 done" in card_of(alice_client, lead)
    Generation.objects.filter(pk=follower.pk).update(status=Status.FAILED)
    assert "1 of 2 done" in card_of(alice_client, lead)


def test_each_language_has_its_own_card(alice, bob, alice_client):
    row = generation(bob, prompt="A lighthouse at noon")
    assert "Done" in card_of(alice_client, row)
    MemberPreference.objects.create(user=bob, language="th")
    thai = card_of(signed_in(bob), row)
    assert "Done" not in thai
    assert "Reuse settings" not in thai  # the kept links (_reuse_actions.html) too
    assert "เสร็จแล้ว" in thai


def test_each_time_zone_has_its_own_card(alice, bob, alice_client):
    row = generation(alice, created_at=datetime(2026, 11, 30, 11, 29, tzinfo=UTC))
    MemberPreference.objects.create(user=bob, time_zone="Asia/Bangkok")
    assert "11:29" in card_of(alice_client, row)  # the team's zone, UTC in tests
    assert "18:29" in card_of(signed_in(bob), row)


def test_what_is_kept_differs_by_member_only_in_the_actions(alice, bob, alice_client):
    """The owner's Delete and the other member's lack of it are drawn each time, around the
    same kept words."""
    row = generation(alice)
    mine = alice_client.get("/").content.decode()
    theirs = signed_in(bob).get("/").content.decode()
    assert f'action="/generations/{row.pk}/delete/"' in mine
    assert f'action="/generations/{row.pk}/delete/"' not in theirs


def kept() -> int:
    """How many cards' pictures and words the cards cache holds (LocMemCache keeps its keys in
    ``_cache``; a fragment's key holds its name)."""
    keys = caches["cards"]._cache  # type: ignore[attr-defined]
    return sum(".card-visual." in key or ".card-words." in key for key in keys)


def test_only_a_finished_card_is_kept(alice, alice_client):
    """An unfinished card ticks (its elapsed seconds), so it is drawn every time."""
    unfinished = generation(alice, status=Status.PROCESSING)
    card_of(alice_client, unfinished)
    assert kept() == 0
    generation(alice)
    alice_client.get("/")
    assert kept() > 0
