"""The history's filter bar in a real browser: htmx swaps the list, the address bar carries the
filter (a link to send), and a wrong value shows its message beside the field."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.rows import generation

pytestmark = [pytest.mark.browser]


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


@pytest.fixture
def history(alice, bob):
    generation(alice, prompt="ตลาดน้ำยามเช้า ภาพสีน้ำมัน")
    generation(bob, prompt="a red bicycle against a yellow wall")
    generation(bob, prompt="แมวส้มนอนบนโซฟา")


def test_it_searches_in_thai_and_puts_the_filter_in_the_address(
    live_server, new_page, alice, history
):
    page = new_page(alice)
    page.goto(live_server.url + "/")
    page.get_by_label("Search prompts").fill("แมว")
    page.get_by_label("Member").select_option("bob")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("article.card")).to_have_count(1)
    expect(page.locator("article.card .prompt")).to_have_text("แมวส้มนอนบนโซฟา")
    assert query_of(page) == {"who": ["everyone"], "q": ["แมว"], "member": ["bob"]}
    expect(page.locator("#request-error")).to_be_hidden()

    shared = new_page(alice)  # the address, sent to someone, opens the same view
    shared.goto(page.url)
    expect(shared.locator("article.card .prompt")).to_have_text("แมวส้มนอนบนโซฟา")
    expect(shared.get_by_label("Search prompts")).to_have_value("แมว")


def test_it_shows_a_wrong_value_beside_its_field(live_server, new_page, alice, history):
    page = new_page(alice)
    page.goto(live_server.url + "/")
    page.get_by_label("Search prompts").fill("ab")
    page.get_by_role("button", name="Show").click()
    message = page.locator("#filter-q_error")
    expect(message).to_have_text(
        "Add a word of at least three letters: shorter words only narrow a search."
    )
    expect(page.get_by_label("Search prompts")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#request-error")).to_be_hidden()  # not the "could not do that" banner
    expect(page.locator("article.card")).to_have_count(0)


def test_it_clears_the_filters(live_server, new_page, alice, history):
    page = new_page(alice)
    page.goto(live_server.url + "/?q=bicycle")
    expect(page.locator("article.card")).to_have_count(1)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("article.card")).to_have_count(3)
    assert query_of(page) == {"who": ["everyone"]}


def test_it_filters_without_javascript(live_server, new_page, alice, history):
    page = new_page(alice, javascript=False)
    page.goto(live_server.url + "/")
    page.get_by_label("Search prompts").fill("bicycle")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("article.card .prompt")).to_have_text("a red bicycle against a yellow wall")
    assert query_of(page)["q"] == ["bicycle"]
