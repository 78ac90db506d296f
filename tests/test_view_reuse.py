"""Reuse, through the studio page: ``/?reuse=<pk>`` fills the form from any image the team can
see, ``&seed=new`` leaves the seed empty, and a note says whose settings they are. A link that
names no such image opens the usual empty form with a notice, never an error. Nothing is saved."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from generations.models import Generation, LedgerEntry, Status
from tests.rows import batch, generation

pytestmark = pytest.mark.django_db


def studio(client, query: str):
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    return response.content.decode()


FIELD_PATTERNS = {
    # A browser drops the newline that opens a textarea's text (Django writes one).
    "prompt": r'<textarea name="prompt"[^>]*>\n?([^<]*)</textarea>',
    "model": r'<option value="([^"]+)"[^>]*selected',
    "aspect_ratio": r'<input type="radio" name="aspect_ratio" value="([^"]+)"[^>]*checked',
}


def field(body: str, name: str) -> str:
    """The value the form shows for an input, the prompt textarea or the chosen radio/option
    (an input without a value attribute shows "")."""
    if name not in FIELD_PATTERNS:
        tag = re.search(rf'<input type="text" name="{name}"[^>]*>', body)
        assert tag is not None, f"the form shows no {name}"
        value = re.search(r'value="([^"]*)"', tag[0])
        return value[1] if value else ""
    found = re.search(FIELD_PATTERNS[name], body, re.S)
    assert found is not None, f"the form shows no {name}"
    return found[1]


def day_of(row) -> str:
    return date_format(timezone.localtime(row.created_at), "DATE_FORMAT")


@pytest.fixture
def bobs(bob):
    return generation(
        bob,
        prompt="A red bicycle by a canal",
        negative_prompt="cars",
        aspect_ratio="16:9",
        model="google-imagen4-ultra",
        seed=4242,
    )


def test_it_fills_the_form_from_a_colleagues_image(alice_client, bobs):
    body = studio(alice_client, f"reuse={bobs.pk}")
    assert field(body, "prompt") == "A red bicycle by a canal"
    assert field(body, "negative_prompt") == "cars"
    assert field(body, "aspect_ratio") == "16:9"
    assert field(body, "model") == "google-imagen4-ultra"
    assert field(body, "seed") == "4242"
    assert f"These settings are from bob&#x27;s image of {day_of(bobs)}." in body


def test_it_leaves_the_seed_empty_for_a_new_one(alice_client, bobs):
    body = studio(alice_client, f"reuse={bobs.pk}&seed=new")
    assert field(body, "seed") == ""
    assert field(body, "prompt") == "A red bicycle by a canal"
    assert field(body, "model") == "google-imagen4-ultra"
    assert "with a new seed." in body


def test_it_says_your_image_for_the_members_own(alice, alice_client):
    row = generation(alice, prompt="Mine")
    assert f"These settings are from your image of {day_of(row)}." in studio(
        alice_client, f"reuse={row.pk}"
    )


def test_it_fills_the_seed_the_studio_picked(alice_client, bob):
    row = generation(bob, seed=987654321, seed_picked=True)
    assert field(studio(alice_client, f"reuse={row.pk}"), "seed") == "987654321"


def test_it_chooses_the_default_model_when_that_one_is_not_offered_any_more(alice_client, bob):
    row = generation(bob, prompt="Old model", model="google-imagen3")
    body = studio(alice_client, f"reuse={row.pk}")
    assert field(body, "prompt") == "Old model"
    assert field(body, "model") == "google-imagen4"
    assert "google-imagen3 is not offered any more, so the default model is chosen instead." in body


def test_it_fills_it_from_a_failed_image_too(alice_client, bob):
    row = generation(bob, "failed", prompt="It failed")
    assert field(studio(alice_client, f"reuse={row.pk}"), "prompt") == "It failed"


@pytest.mark.parametrize("value", ["abc", "", "0", "-3", "²", "1.5", "9" * 40])
def test_it_opens_an_empty_form_with_a_notice_for_a_bad_link(alice_client, value):
    body = studio(alice_client, f"reuse={value}")
    assert "That link does not name an image, so the form starts empty." in body
    assert field(body, "prompt") == ""


def test_it_opens_an_empty_form_with_a_notice_for_a_deleted_or_unknown_image(alice_client, bob):
    gone = generation(bob, prompt="Deleted one", deleted_at=timezone.now())
    for pk in (gone.pk, 999999):
        body = studio(alice_client, f"reuse={pk}")
        assert "The image that link names is gone, so the form starts empty." in body
        assert field(body, "prompt") == ""


def test_it_refuses_a_bad_seed_choice_as_a_bad_link(alice_client, bobs):
    body = studio(alice_client, f"reuse={bobs.pk}&seed=other")
    assert "That link does not name an image" in body


def test_it_saves_and_reserves_nothing(alice_client, bobs):
    studio(alice_client, f"reuse={bobs.pk}")
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.count() == 0


def test_it_shows_the_plain_form_without_reuse(alice_client, bobs):
    body = studio(alice_client, "who=everyone")
    assert field(body, "prompt") == ""
    assert "These settings are from" not in body


def test_it_fills_the_count_of_a_request_of_several_images(alice, alice_client):
    lead, *_ = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED)
    body = studio(alice_client, f"reuse={lead.pk}")
    assert re.search(r'<input type="number" name="count" value="3"', body)


def test_it_fills_the_request_from_any_of_its_images(alice, alice_client):
    _, follower = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, seed=500)
    body = studio(alice_client, f"reuse={follower.pk}")
    assert re.search(r'<input type="number" name="count" value="2"', body)
    assert field(body, "seed") == "500"  # the request's first seed: it makes the same images


def test_it_fills_a_count_of_one_for_a_single_image(alice, alice_client):
    row = generation(alice)
    body = studio(alice_client, f"reuse={row.pk}")
    assert re.search(r'<input type="number" name="count" value="1"', body)


# -- In Thai ---------------------------------------------------------------------------------------


def test_a_thai_member_reads_whose_settings_they_are_in_thai(alice, alice_thai_client, bobs):
    body = studio(alice_thai_client, f"reuse={bobs.pk}&seed=new")
    with translation.override("th"):
        day = day_of(bobs)
    assert not day.isascii()  # the month is named in Thai
    assert f"ค่าเหล่านี้มาจากภาพของ bob เมื่อ {day} และใช้ซีดใหม่" in body
    old = generation(alice, prompt="Old model", model="google-imagen3")
    body = studio(alice_thai_client, f"reuse={old.pk}")
    assert "ค่าเหล่านี้มาจากภาพของคุณเมื่อ" in body
    assert "ตอนนี้ไม่มี google-imagen3 ให้เลือกแล้ว จึงเลือกโมเดลเริ่มต้นให้แทน" in body


def test_a_thai_member_reads_why_the_form_starts_empty_in_thai(alice_thai_client, bob):
    body = studio(alice_thai_client, "reuse=abc")
    assert "ลิงก์นี้ไม่ได้ระบุภาพ ฟอร์มจึงเริ่มจากค่าว่าง" in body
    assert "That link" not in body
    gone = generation(bob, deleted_at=timezone.now())
    assert "ภาพที่ลิงก์นี้ระบุไม่มีอยู่แล้ว" in studio(alice_thai_client, f"reuse={gone.pk}")
