"""The language switch: Django's set_language at /i18n/setlang/, kept with a member's account."""

from __future__ import annotations

import pytest
from django.conf import settings

from generations.models import MemberPreference

pytestmark = pytest.mark.django_db

URL = "/i18n/setlang/"


def test_it_keeps_a_members_choice_with_their_account(alice, alice_client):
    response = alice_client.post(URL, {"language": "th", "next": "/boards/"})
    assert response.status_code == 302
    assert response.url == "/boards/"
    assert MemberPreference.objects.get(user=alice).language == "th"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"


def test_it_changes_a_saved_choice(alice, alice_client):
    MemberPreference.objects.create(user=alice, language="th", time_zone="Asia/Bangkok")
    alice_client.post(URL, {"language": "en", "next": "/"})
    saved = MemberPreference.objects.get(user=alice)
    assert (saved.language, saved.time_zone) == ("en", "Asia/Bangkok")


def test_it_sets_only_the_cookie_for_a_visitor(client):
    response = client.post(URL, {"language": "th", "next": "/accounts/login/"})
    assert response.url == "/accounts/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    assert not MemberPreference.objects.exists()


def test_it_never_sends_the_member_to_another_site(alice_client):
    response = alice_client.post(URL, {"language": "th", "next": "https://evil.example/"})
    assert response.url == "/"


@pytest.mark.parametrize("language", ["fr", "", "th-TH", "th\x00"])
def test_it_refuses_a_language_the_studio_does_not_offer(alice, alice_client, language):
    response = alice_client.post(URL, {"language": language, "next": "/"})
    assert response.status_code == 400
    assert "English / ไทย" in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert not MemberPreference.objects.filter(user=alice).exists()


def test_it_refuses_get(alice_client):
    assert alice_client.get(URL, {"language": "th"}).status_code == 405
