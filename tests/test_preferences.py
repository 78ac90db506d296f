"""A member's language and time zone: saved with the account, else the browser's word."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from generations import preferences
from generations.models import MemberPreference, this_month
from tests.rows import generation
from tests.support import page_text

pytestmark = pytest.mark.django_db

MADE_AT = datetime(2026, 3, 3, 4, 29, tzinfo=UTC)


def shown_time(client: Client, user: User) -> str:
    """The studio card's and the detail page's time of an image made at 04:29 UTC."""
    row = generation(user, created_at=MADE_AT)
    card = page_text(client.get("/"))
    detail = page_text(client.get(f"/generations/{row.pk}/"))
    card_time = "11:29" if "Mar 3, 11:29" in card else "04:29" if "Mar 3, 04:29" in card else "?"
    assert card_time in detail
    return card_time


def test_a_member_in_bangkok_sees_bangkok_time(alice, alice_client):
    MemberPreference.objects.create(user=alice, time_zone="Asia/Bangkok")
    assert shown_time(alice_client, alice) == "11:29"


def test_the_detail_page_says_which_zone_its_time_is_in(alice, alice_client):
    MemberPreference.objects.create(user=alice, time_zone="Asia/Bangkok")
    row = generation(alice, created_at=MADE_AT)
    body = page_text(alice_client.get(f"/generations/{row.pk}/"))
    assert 'title="Asia/Bangkok">UTC+07:00</span>' in body


def test_a_member_with_no_zone_sees_the_zone_their_browser_said(alice, alice_client):
    alice_client.cookies[preferences.TIME_ZONE_COOKIE] = "Asia/Bangkok"
    assert shown_time(alice_client, alice) == "11:29"


def test_the_saved_zone_wins_over_the_browsers(alice, alice_client):
    MemberPreference.objects.create(user=alice, time_zone="Asia/Bangkok")
    alice_client.cookies[preferences.TIME_ZONE_COOKIE] = "America/New_York"
    assert shown_time(alice_client, alice) == "11:29"


@pytest.mark.parametrize("cookie", ["Mars/Olympus", "../../etc/passwd", "", "Asia/Bangkok\x00"])
def test_a_zone_the_machine_does_not_know_is_ignored(alice, alice_client, cookie):
    alice_client.cookies[preferences.TIME_ZONE_COOKIE] = cookie
    assert shown_time(alice_client, alice) == "04:29"


def test_without_any_zone_times_are_in_the_sites_zone(alice, alice_client):
    assert shown_time(alice_client, alice) == "04:29"
    row = generation(alice, created_at=MADE_AT)
    body = page_text(alice_client.get(f"/generations/{row.pk}/"))
    assert 'title="UTC">UTC</span>' in body


def test_the_member_comes_with_their_preferences_in_one_query(alice, django_assert_num_queries):
    MemberPreference.objects.create(user=alice, language="th")
    with django_assert_num_queries(1):
        member = preferences.MemberBackend().get_user(alice.pk)
        assert member is not None
        assert member.preference.language == "th"  # type: ignore[attr-defined]


def test_a_member_who_never_chose_costs_no_more_queries(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        member = preferences.MemberBackend().get_user(alice.pk)
        assert member is not None
        with pytest.raises(MemberPreference.DoesNotExist):
            member.preference  # type: ignore[attr-defined]  # noqa: B018


def test_the_budget_month_is_the_teams_whatever_zone_a_page_shows(settings):
    settings.TIME_ZONE = "UTC"
    # 20:00 UTC on 31 March is already 1 April in Bangkok; the charge still counts in March.
    with timezone.override("Asia/Bangkok"):
        late_march = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(timezone, "now", lambda: late_march)
            assert this_month().isoformat() == "2026-03-01"


# -- The language ----------------------------------------------------------------------------------

THAI_HEADER = ("สตูดิโอ</a>", "บอร์ด</a>", ">ออกจากระบบ</button>", 'aria-label="ภาษา"')


def test_a_thai_member_sees_the_header_in_thai_whatever_the_browser_says(alice, alice_client):
    MemberPreference.objects.create(user=alice, language="th")
    alice_client.cookies["django_language"] = "en"
    body = page_text(alice_client.get("/boards/", headers={"Accept-Language": "en"}))
    assert '<html lang="th">' in body
    assert all(words in body for words in THAI_HEADER)
    assert ">Sign out<" not in body


def test_a_member_who_never_chose_gets_the_browsers_language(alice, alice_client):
    body = page_text(alice_client.get("/boards/", headers={"Accept-Language": "th"}))
    assert '<html lang="th">' in body
    assert all(words in body for words in THAI_HEADER)


def test_a_choice_made_on_one_browser_follows_the_member_to_another(alice, alice_client):
    alice_client.post("/i18n/setlang/", {"language": "th", "next": "/boards/"})
    assert '<html lang="th">' in page_text(alice_client.get("/boards/"))
    other_browser = Client()
    other_browser.force_login(alice)
    assert '<html lang="th">' in page_text(other_browser.get("/boards/"))


def test_the_switch_goes_back_to_the_page_it_was_on(alice_client):
    body = page_text(alice_client.get("/boards/?page=2"))
    assert 'action="/i18n/setlang/"' in body
    assert '<input type="hidden" name="next" value="/boards/?page=2">' in body
