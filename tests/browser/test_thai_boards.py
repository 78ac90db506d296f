"""The boards in Thai, in a real browser: a Thai member reads no English word on them but names
(of the studio, boards, members and prompts), and Thai letters are drawn in the studio's face."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from generations.models import Board, BoardItem, MemberPreference
from tests.rows import generation

pytestmark = pytest.mark.browser

LATIN_WORD = re.compile(r"[A-Za-z]+")
# Names, not words to translate: the studio's, the language switch's own "English", a file type.
ALLOWED = {"Imagen", "Studio", "English", "zip"}
THAI_FACE = (
    "document.fonts.ready.then(() => [...document.fonts].filter(face =>"
    " face.family.includes('Noto Sans Thai') && face.status === 'loaded').length)"
)


def english_left(page, names: str) -> set[str]:
    """The Latin words of the page's visible text that are not a name."""
    shown = page.locator("body").inner_text()
    return set(LATIN_WORD.findall(shown)) - ALLOWED - set(LATIN_WORD.findall(names))


def test_a_thai_member_reads_the_boards_in_thai_in_the_thai_face(alice, bob, live_server, new_page):
    MemberPreference.objects.create(user=alice, language="th")
    board = Board.objects.create(name="Sea lights", maker=alice)
    image = generation(bob, prompt="A lighthouse at dawn")
    BoardItem.objects.create(board=board, generation=image, added_by=bob)
    Board.objects.create(name="Logos", maker=bob)
    generation(alice, prompt="A harbour at night")  # offered to add
    names = "Sea lights Logos alice bob A lighthouse at dawn A harbour at night"
    page = new_page(alice)

    page.goto(f"{live_server.url}/boards/")
    expect(page.get_by_role("heading", name="บอร์ด", exact=True)).to_be_visible()
    expect(page.get_by_text("1 ภาพ · สร้างโดย alice")).to_be_visible()
    assert english_left(page, names) == set()
    assert page.evaluate(THAI_FACE) >= 1
    face = page.locator("h1").evaluate("h => getComputedStyle(h).fontFamily")
    assert "Noto Sans Thai" in face

    page.get_by_role("link", name="Sea lights").click()
    expect(page.get_by_role("heading", name="Sea lights")).to_be_visible()
    page.get_by_text("เพิ่มภาพล่าสุด").click()  # open the recent images too
    expect(page.get_by_role("button", name="เพิ่ม “A harbour at night” ลงบอร์ดนี้")).to_be_visible()
    assert english_left(page, names) == set()

    page.get_by_text("เปลี่ยนชื่อ", exact=True).click()
    page.get_by_label("ชื่อใหม่").fill("Logos")
    page.get_by_role("button", name="บันทึกชื่อ").click()
    expect(page.get_by_text("มีบอร์ดชื่อ “Logos” อยู่แล้ว ลองตั้งชื่ออื่น")).to_be_visible()
    assert english_left(page, names) == set()
