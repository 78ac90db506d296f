"""The detail page: the full image and every fact about one generation, for the whole team."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation, Status
from tests.rows import batch, generation
from tests.support import page_text

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
    assert "<dd>16:9</dd>" in body
    assert "<span data-seed>7</span>" in body
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


# -- Everything needed to make it again, and the controls that do (issue 11) ---------------------


def facts(body: str) -> str:
    """The list of facts, whitespace folded and trimmed inside each <dd> (as a browser shows
    it: the template lays long values out over lines)."""
    folded = re.sub(r"\s*</dd>", "</dd>", re.sub(r"<dd>\s*", "<dd>", page_text(body)))
    return folded[folded.index('<dl class="facts"') : folded.index("</dl>")]


def test_it_lists_everything_needed_to_make_it_again(alice, bob_client):
    started = timezone.now() - timedelta(seconds=75)
    row = generation(
        alice,
        prompt="A fox in snow",
        negative_prompt="fences",
        seed=31337,
        model="google-imagen4-ultra",
        aspect_ratio="3:4",
        credits_reserved=12,
        created_at=started,
        finished_at=started + timedelta(seconds=65),
    )
    listed = facts(page_text(bob_client.get(f"/generations/{row.pk}/")))
    assert "<dd>A fox in snow</dd>" in listed
    assert "<dd>fences</dd>" in listed
    assert "<span data-seed>31337</span>" in listed
    assert "picked by the studio" not in listed
    assert "<dd>Imagen 4 Ultra</dd>" in listed
    assert "<dd>3:4</dd>" in listed
    assert "<dd>12 charged</dd>" in listed
    assert "<dd>alice</dd>" in listed
    assert f'datetime="{timezone.localtime(started).isoformat()}' in listed
    assert "<dd>1 min 5 s</dd>" in listed


def test_it_says_the_studio_picked_the_seed_and_offers_to_copy_it(alice, alice_client):
    row = generation(alice, seed=4096, seed_picked=True)
    listed = facts(page_text(alice_client.get(f"/generations/{row.pk}/")))
    assert "<span data-seed>4096</span> (picked by the studio)" in listed
    assert 'data-copy="4096"' in listed
    assert "makes a similar image, not always the same one" in listed


def test_it_says_random_for_a_seed_never_recorded(alice, alice_client):
    row = generation(alice, seed=None)
    listed = facts(alice_client.get(f"/generations/{row.pk}/").content.decode())
    assert re.search(r"<dt>Seed</dt>\s*<dd>Random</dd>", listed)
    assert "data-copy=" not in listed


def test_it_offers_reuse_and_copy_prompt_to_every_member(alice, bob_client):
    row = generation(alice, prompt="Share me")
    body = bob_client.get(f"/generations/{row.pk}/").content.decode()
    assert f'href="/?reuse={row.pk}"' in body
    assert f'href="/?reuse={row.pk}&amp;seed=new"' in body
    assert 'data-copy="Share me"' in body


def test_it_offers_retry_to_the_owner_of_a_failed_one_only(alice, alice_client, bob_client):
    row = generation(alice, Status.FAILED)
    retry = f'action="/generations/{row.pk}/retry/"'
    assert retry in alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert retry not in bob_client.get(f"/generations/{row.pk}/").content.decode()


def test_it_offers_cancel_before_sending_and_stop_waiting_after(alice, alice_client, bob_client):
    row = generation(alice, Status.QUEUED)
    cancel, stop = (f'action="/generations/{row.pk}/{a}/"' for a in ("cancel", "stop"))
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert cancel in body
    assert stop not in body
    assert "It has not been sent to Rivya yet" in body
    Generation.objects.filter(pk=row.pk).update(status=Status.PROCESSING, submit_attempts=1)
    body = alice_client.get(f"/generations/{row.pk}/").content.decode()
    assert stop in body
    assert cancel not in body
    assert "Rivya is already making it and cannot be asked to stop." in body
    others = bob_client.get(f"/generations/{row.pk}/").content.decode()
    assert stop not in others
    assert cancel not in others


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_shows_every_image_of_a_request_and_says_what_the_others_are_doing(alice, bob_client):
    lead, *_ = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED, Status.PROCESSING)
    body = page_text(bob_client.get(f"/generations/{lead.pk}/"))
    assert body.count('class="full"') == 2
    assert "Image 1 · seed 100" in body
    assert "Image 2 · seed 101" in body
    assert "Image 3 failed." in body
    assert "Image 4: Processing" in body
    listed = facts(body)
    assert "<dt>Images</dt> <dd>4</dd>" in listed
    assert "<dd>2 of 4 done</dd>" in listed
    assert "<dd>32 reserved</dd>" in listed


def test_it_shows_all_four_once_they_are_made(alice, alice_client):
    lead, *_ = batch(alice, *[Status.SUCCEEDED] * 4)
    body = page_text(alice_client.get(f"/generations/{lead.pk}/"))
    assert body.count('class="full"') == 4
    assert all(f"?n={n}" in body for n in (1, 2, 3, 4))
    assert "<dd>32 charged</dd>" in facts(body)


def test_it_answers_an_image_of_a_request_with_the_requests_page(alice, alice_client):
    lead, follower = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED)
    response = alice_client.get(f"/generations/{follower.pk}/")
    assert response.status_code == 302
    assert response.url == f"/generations/{lead.pk}/"
