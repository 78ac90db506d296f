"""The studio page: the generate form above the team's shared history, newest first."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Status
from generations.views import PAGE_SIZE
from tests.rows import generation

pytestmark = pytest.mark.django_db


def test_it_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


def test_it_shows_the_whole_teams_history(alice, bob, alice_client):
    generation(alice, prompt="Alice's lighthouse")
    generation(bob, prompt="Bob's harbour")
    body = alice_client.get("/").content.decode()
    assert "Alice&#x27;s lighthouse" in body
    assert "Bob&#x27;s harbour" in body
    assert "Team history" in body


def test_it_shows_newest_first(alice, bob, alice_client):
    generation(alice, prompt="first made")
    generation(bob, prompt="second made")
    body = alice_client.get("/").content.decode()
    assert body.index("second made") < body.index("first made")


def test_it_shows_only_mine_when_asked(alice, bob, alice_client):
    generation(alice, prompt="Alice's lighthouse")
    generation(bob, prompt="Bob's harbour")
    body = alice_client.get("/?who=mine").content.decode()
    assert "Alice&#x27;s lighthouse" in body
    assert "Bob&#x27;s harbour" not in body
    assert "My images" in body


def test_it_pages_with_a_keyset_and_links_to_older(alice, alice_client):
    rows = [generation(alice, Status.FAILED, prompt=f"picture number {i:03d}") for i in range(30)]
    newest_first = [r.pk for r in reversed(rows)]
    first = alice_client.get("/")
    last_shown = newest_first[PAGE_SIZE - 1]
    assert [g.pk for g in first.context["generations"]] == newest_first[:PAGE_SIZE]
    assert f'href="?who=everyone&amp;before={last_shown}"' in first.content.decode()

    second = alice_client.get(f"/?before={last_shown}")
    body = second.content.decode()
    assert [g.pk for g in second.context["generations"]] == newest_first[PAGE_SIZE:]
    assert ">Older<" not in body
    assert ">Newest<" in body


def test_it_keeps_the_switch_while_paging(alice, bob, alice_client):
    mine = [generation(alice, Status.FAILED, prompt=f"alice {i}") for i in range(PAGE_SIZE + 2)]
    generation(bob, Status.FAILED, prompt="bob in between")
    body = alice_client.get("/?who=mine").content.decode()
    assert f"?who=mine&amp;before={mine[2].pk}" in body


def test_it_ignores_a_before_that_is_not_a_number(alice, alice_client):
    generation(alice, prompt="still here")
    response = alice_client.get("/?before=abc")
    assert response.status_code == 200
    assert "still here" in response.content.decode()


def test_it_hides_deleted_generations(alice, alice_client):
    generation(alice, prompt="kept one")
    generation(alice, prompt="deleted one", deleted_at=timezone.now())
    body = alice_client.get("/").content.decode()
    assert "kept one" in body
    assert "deleted one" not in body


def test_it_welcomes_a_member_with_no_generations(alice_client):
    response = alice_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<article" not in body
    assert "No images yet. Write a prompt above to make the first one." in body
    assert 'id="generate-form"' in body


def test_it_tells_a_member_without_images_how_to_start_on_mine(bob, alice_client):
    generation(bob, prompt="bob's, not mine")
    body = alice_client.get("/?who=mine").content.decode()
    assert "<article" not in body
    assert "You have no images yet" in body


def test_it_answers_an_htmx_history_request_with_the_partial(alice, alice_client):
    generation(alice, prompt="in the partial")
    response = alice_client.get(
        "/?who=mine", headers={"HX-Request": "true", "HX-Target": "history"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="history"')
    assert "in the partial" in body
    assert "<html" not in body
    assert 'id="generate-form"' not in body


def test_it_answers_other_htmx_requests_with_the_page(alice_client):
    body = alice_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="generate-form"' in body
