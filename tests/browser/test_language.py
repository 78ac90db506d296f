"""The language switch, the browser's time zone and the Thai face, in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from generations.models import MemberPreference, Status
from tests.rows import generation

pytestmark = pytest.mark.browser


def test_the_switch_turns_the_page_thai_and_keeps_the_choice(live_server, alice, new_page):
    page = new_page(alice)
    page.goto(f"{live_server.url}/boards/")
    switch = page.get_by_role("form", name="Language")
    switch.get_by_role("button", name="ไทย").click()
    expect(page.locator("html")).to_have_attribute("lang", "th")
    assert page.url == f"{live_server.url}/boards/"
    expect(page.get_by_role("link", name="สตูดิโอ")).to_be_visible()
    expect(page.get_by_role("button", name="ออกจากระบบ")).to_be_visible()
    assert MemberPreference.objects.get(user=alice).language == "th"
    # Thai letters are drawn in the face the studio serves, whatever the machine has.
    loaded = page.evaluate(
        "document.fonts.ready.then(() => [...document.fonts].filter(face =>"
        " face.family.includes('Noto Sans Thai') && face.status === 'loaded').length)"
    )
    assert loaded >= 1


def test_the_switch_works_without_javascript(live_server, alice, new_page):
    MemberPreference.objects.create(user=alice, language="th")
    page = new_page(alice, javascript=False)
    page.goto(f"{live_server.url}/boards/")
    page.get_by_role("form", name="ภาษา").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Studio", exact=True)).to_be_visible()
    assert MemberPreference.objects.get(user=alice).language == "en"


def test_times_follow_the_browsers_time_zone(live_server, alice, new_page):
    row = generation(alice, created_at=datetime(2026, 3, 3, 4, 29, tzinfo=UTC))
    page = new_page(alice, timezone_id="Asia/Bangkok")
    page.goto(f"{live_server.url}/")  # the first page tells the server the browser's zone
    page.goto(f"{live_server.url}/generations/{row.pk}/")
    when = page.locator("dd", has=page.locator("time"))
    expect(when).to_contain_text("11:29")
    expect(when).to_contain_text(re.compile(r"UTC\+07:00"))


def test_the_scripts_words_follow_the_page(live_server, alice, new_page):
    """What app.js says by itself (a ticking card's time, a click that got no answer) is in the
    page's language: the page hands it its words (base.html's #script-words)."""
    MemberPreference.objects.create(user=alice, language="th")
    generation(alice, Status.PROCESSING, created_at=timezone.now() - timedelta(seconds=75))
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    expect(page.locator(".card .state [data-seconds]")).to_have_text(
        re.compile(r"^1 นาที \d+ วินาที$")
    )
    page.route("**/favorite/", lambda route: route.abort())
    page.locator(".card .star").click()
    expect(page.locator("#request-error")).to_have_text(
        "ติดต่อสตูดิโอไม่ได้ ตรวจสอบการเชื่อมต่ออินเทอร์เน็ตแล้วลองอีกครั้ง"
    )
    page.unroute("**/favorite/")
    page.route("**/favorite/", lambda route: route.fulfill(status=500, body=""))
    page.locator(".card .star").click()
    expect(page.locator("#request-error")).to_contain_text("(ข้อผิดพลาด 500)")
