"""The lightbox in a real browser: a card's image opens large over the page, ← and → walk the
list as filtered, Esc closes and the focus is back on the card; all of it with the keyboard
alone, by a click, and with no console error or CSP violation. Without JavaScript the image is a
link to the detail page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generations.models import Board, Generation
from tests.rows import generation
from tests.support import console_problems, screenshot

pytestmark = [pytest.mark.browser]

FULL_IMAGE_LOADED = """() => {
    const img = document.querySelector('#lightbox [data-lightbox-image]');
    return img && img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0;
}"""


@pytest.fixture
def harbours(alice, bob) -> list[Generation]:
    """Three harbour images with a forest among them, newest last: the history shows them as
    harbour 3, forest, harbour 2, harbour 1, and ?q=harbour leaves the forest out."""
    first = generation(bob, prompt="harbour one at dawn")
    second = generation(alice, prompt="harbour two <b>at noon</b>")
    generation(bob, prompt="a forest in fog")
    third = generation(bob, prompt="harbour three at dusk")
    return [third, second, first]


def detail(row: Generation) -> str:
    return f"/generations/{row.pk}/"


def image_link(page, row: Generation):
    """The card's image link (its "Details" link goes to the same page, so not by href alone)."""
    return page.locator(f".card .visual a[href='{detail(row)}']")


def expect_shown(page, row: Generation) -> None:
    expect(page.locator("#lightbox [data-lightbox-image]")).to_have_attribute("src", row.image.url)


def tab_to(page, link, limit: int = 60) -> None:
    """Press Tab until ``link`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if link.evaluate("element => element === document.activeElement"):
            return
    pytest.fail("Tab never reached the image link")


def test_it_walks_the_filtered_list_with_the_keyboard_alone(live_server, new_page, alice, harbours):
    third, second, first = harbours
    page = new_page(alice)
    problems = console_problems(page)
    page.goto(f"{live_server.url}/?q=harbour")
    expect(page.locator("article.card")).to_have_count(3)
    dialog = page.locator("#lightbox")

    tab_to(page, image_link(page, third))
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect_shown(page, third)
    assert (
        page.wait_for_function(FULL_IMAGE_LOADED).json_value() == 128
    )  # the full image, not the 64 px thumbnail
    expect(dialog.locator("[data-lightbox-prompt]")).to_have_text("harbour three at dusk")
    expect(dialog.locator("[data-lightbox-who]")).to_have_text("bob")
    expect(dialog.get_by_role("link", name="Details")).to_have_attribute("href", detail(third))
    expect(dialog.get_by_role("button", name="Close the large image")).to_be_focused()
    screenshot(page, "lightbox")

    page.keyboard.press("ArrowRight")  # the forest is not in the filtered list: harbour two is next
    expect_shown(page, second)
    expect(dialog.locator("[data-lightbox-prompt]")).to_have_text("harbour two <b>at noon</b>")
    expect(dialog.locator("[data-lightbox-who]")).to_have_text("alice")
    page.keyboard.press("ArrowRight")
    expect_shown(page, first)
    expect(dialog.get_by_role("button", name="Next image")).to_have_attribute(
        "aria-disabled", "true"
    )
    page.keyboard.press("ArrowRight")  # the end of the list: it stays on the last one
    expect_shown(page, first)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect_shown(page, third)

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(image_link(page, third)).to_be_focused()
    page.keyboard.press("Space")  # Space on the focused image link opens it too
    expect(dialog).to_be_visible()
    expect_shown(page, third)
    page.keyboard.press("Escape")
    expect(image_link(page, third)).to_be_focused()
    assert problems == []


def test_it_opens_by_a_click_on_cards_htmx_brought(live_server, new_page, alice, harbours):
    _, second, first = harbours
    page = new_page(alice)
    problems = console_problems(page)
    page.goto(f"{live_server.url}/")
    page.evaluate("window.marker = 1")
    page.get_by_label("Search prompts").fill("harbour")
    page.get_by_role("button", name="Show").click()  # htmx swaps the history: new cards
    expect(page.locator("article.card")).to_have_count(3)

    image_link(page, second).click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    expect_shown(page, second)
    dialog.get_by_role("button", name="Next image").click()
    expect_shown(page, first)
    dialog.get_by_role("button", name="Close the large image").click()
    expect(dialog).to_be_hidden()
    expect(image_link(page, first)).to_be_focused()  # the card of the image last shown
    assert page.evaluate("window.marker") == 1  # no page load along the way
    assert problems == []


def test_it_opens_on_a_board_page(live_server, new_page, alice, bob, harbours):
    third, _, first = harbours
    board = Board.objects.create(name="Harbours", maker=bob)
    for row in (first, third):  # added oldest first: the board shows harbour three first
        board.items.create(generation=row, added_by=bob)
    page = new_page(alice)
    problems = console_problems(page)
    page.goto(f"{live_server.url}/boards/{board.pk}/")

    image_link(page, first).click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    expect_shown(page, first)
    page.keyboard.press("ArrowLeft")
    expect_shown(page, third)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(image_link(page, third)).to_be_focused()  # the image last shown, not the one clicked
    assert problems == []


def test_it_links_the_image_to_its_detail_page_without_javascript(
    live_server, new_page, alice, harbours
):
    page = new_page(alice, javascript=False)
    page.goto(f"{live_server.url}/?q=harbour")
    image_link(page, harbours[0]).click()
    expect(page).to_have_url(f"{live_server.url}{detail(harbours[0])}")
