"""POST /generations/<pk>/favorite/: a member's own star on any generation the team can see."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Favorite, Status
from tests.rows import batch, generation
from tests.support import page_text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/?q=harbour"}


def stars(user) -> list[int]:
    return list(Favorite.objects.filter(user=user).values_list("generation_id", flat=True))


def test_it_requires_sign_in(client, alice):
    row = generation(alice)
    response = client.post(f"/generations/{row.pk}/favorite/", {"star": "1"})
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert Favorite.objects.count() == 0


def test_it_refuses_get(alice, alice_client):
    row = generation(alice)
    assert alice_client.get(f"/generations/{row.pk}/favorite/").status_code == 405


def test_it_stars_and_answers_htmx_with_the_star(alice, alice_client):
    row = generation(alice)
    response = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "1"}, headers=HTMX)
    body = page_text(response)
    assert response.status_code == 200
    assert stars(alice) == [row.pk]
    assert body.lstrip().startswith('<form class="star-form"')
    assert 'aria-pressed="true"' in body
    assert '<input type="hidden" name="star" value="0">' in body  # the next press clears it
    assert '<input type="hidden" name="next" value="/?q=harbour">' in body


def test_it_clears_a_star(alice, alice_client):
    row = generation(alice)
    Favorite.objects.create(user=alice, generation=row)
    response = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "0"}, headers=HTMX)
    assert stars(alice) == []
    assert 'aria-pressed="false"' in response.content.decode()


def test_it_toggles_when_not_told_which(alice, alice_client):
    row = generation(alice)
    alice_client.post(f"/generations/{row.pk}/favorite/", headers=HTMX)
    assert stars(alice) == [row.pk]
    alice_client.post(f"/generations/{row.pk}/favorite/", headers=HTMX)
    assert stars(alice) == []


def test_it_keeps_one_star_through_a_double_click(alice, alice_client):
    row = generation(alice)
    for _ in range(2):
        response = alice_client.post(
            f"/generations/{row.pk}/favorite/", {"star": "1"}, headers=HTMX
        )
        assert 'aria-pressed="true"' in response.content.decode()
    assert stars(alice) == [row.pk]


def test_it_clears_twice_without_complaint(alice, alice_client):
    row = generation(alice)
    for _ in range(2):
        response = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "0"})
        assert response.status_code == 302
    assert stars(alice) == []


def test_it_lets_a_member_star_another_members_generation(alice, bob_client, bob):
    row = generation(alice)
    response = bob_client.post(f"/generations/{row.pk}/favorite/", {"star": "1"}, headers=HTMX)
    assert response.status_code == 200
    assert stars(bob) == [row.pk]
    assert stars(alice) == []


def test_it_keeps_each_members_star_their_own(alice, bob, alice_client, bob_client):
    row = generation(alice)
    Favorite.objects.create(user=bob, generation=row)
    alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "1"})
    alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "0"})
    assert stars(bob) == [row.pk]
    assert stars(alice) == []


def test_it_answers_404_for_a_deleted_or_missing_generation(alice, alice_client):
    row = generation(alice, deleted_at=timezone.now())
    assert alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "1"}).status_code == 404
    assert alice_client.post("/generations/999999/favorite/", {"star": "1"}).status_code == 404
    assert Favorite.objects.count() == 0


@pytest.mark.parametrize("value", ["2", "yes", "", "true"])
def test_it_refuses_a_star_value_it_does_not_know_and_changes_nothing(alice, alice_client, value):
    row = generation(alice)
    response = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": value})
    assert response.status_code == 400
    assert response.content.decode() == "Star with star=1, or clear the star with star=0."
    assert stars(alice) == []


def test_it_redirects_a_plain_form_back_to_its_next(alice, alice_client):
    row = generation(alice)
    response = alice_client.post(
        f"/generations/{row.pk}/favorite/", {"star": "1", "next": "/?q=harbour&before=9"}
    )
    assert response.status_code == 302
    assert response.url == "/?q=harbour&before=9"


def test_it_redirects_back_to_the_referer_on_this_site(alice, alice_client):
    row = generation(alice)
    response = alice_client.post(
        f"/generations/{row.pk}/favorite/",
        {"star": "1"},
        headers={"Referer": "http://testserver/generations/1/"},
    )
    assert response.url == "http://testserver/generations/1/"


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "http://testserver@evil/"],
)
def test_it_never_redirects_off_the_site(alice, alice_client, elsewhere):
    row = generation(alice)
    response = alice_client.post(
        f"/generations/{row.pk}/favorite/",
        {"star": "1", "next": elsewhere},
        headers={"Referer": elsewhere},
    )
    assert response.status_code == 302
    assert response.url == "/"
    assert stars(alice) == [row.pk]


def test_it_shows_the_star_with_a_name_and_its_state_not_colour_alone(alice, alice_client):
    row = generation(alice)
    off = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "0"}, headers=HTMX)
    on = alice_client.post(f"/generations/{row.pk}/favorite/", {"star": "1"}, headers=HTMX)
    assert '<span aria-hidden="true">☆</span> Star </button>' in page_text(off)
    assert '<span aria-hidden="true">★</span> Star </button>' in page_text(on)
    assert 'aria-pressed="false"' in off.content.decode()


def test_it_lists_the_starred_image_under_favorites(alice, bob, alice_client):
    starred = generation(bob, prompt="the one I like")
    generation(bob, prompt="another one")
    alice_client.post(f"/generations/{starred.pk}/favorite/", {"star": "1"})
    body = alice_client.get("/?favorites=1").content.decode()
    assert "the one I like" in body
    assert "another one" not in body


# -- A request of several images (issue 11) ------------------------------------------------------


def test_a_star_on_any_image_of_a_request_stars_the_request(alice, bob, alice_client):
    lead, follower = batch(bob, Status.SUCCEEDED, Status.SUCCEEDED, prompt="a pair")
    alice_client.post(f"/generations/{follower.pk}/favorite/", {"star": "1"})
    assert stars(alice) == [lead.pk]
    body = alice_client.get("/?favorites=1").content.decode()
    assert body.count(f'<article id="gen-{lead.pk}"') == 1
