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

FOCUSED_HREF = "document.activeElement && document.activeElement.getAttribute('href')"
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


def shown_image(page) -> str:
    return page.locator("#lightbox [data-lightbox-image]").get_attribute("src") or ""


def tab_to(page, href: str, limit: int = 60) -> None:
    """Press Tab until the link to ``href`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED_HREF) == href:
            return
    pytest.fail(f"Tab never reached the link to {href}")


def test_it_walks_the_filtered_list_with_the_keyboard_alone(live_server, new_page, alice, harbours):
    third, second, first = harbours
    page = new_page(alice)
    problems = console_problems(page)
    page.goto(f"{live_server.url}/?q=harbour")
    expect(page.locator("article.card")).to_have_count(3)
    dialog = page.locator("#lightbox")

    tab_to(page, detail(third))
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    assert shown_image(page) == third.image.url
    assert (
        page.wait_for_function(FULL_IMAGE_LOADED).json_value() == 128
    )  # the full image, not the 64 px thumbnail
    expect(dialog.locator("[data-lightbox-prompt]")).to_have_text("harbour three at dusk")
    expect(dialog.locator("[data-lightbox-who]")).to_have_text("bob")
    expect(dialog.get_by_role("link", name="Details")).to_have_attribute("href", detail(third))
    expect(dialog.get_by_role("button", name="Close the large image")).to_be_focused()
    screenshot(page, "lightbox")

    page.keyboard.press("ArrowRight")  # the forest is not in the filtered list: harbour two is next
    assert shown_image(page) == second.image.url
    expect(dialog.locator("[data-lightbox-prompt]")).to_have_text("harbour two <b>at noon</b>")
    expect(dialog.locator("[data-lightbox-who]")).to_have_text("alice")
    page.keyboard.press("ArrowRight")
    assert shown_image(page) == first.image.url
    expect(dialog.get_by_role("button", name="Next image")).to_have_attribute(
        "aria-disabled", "true"
    )
    page.keyboard.press("ArrowRight")  # the end of the list: it stays on the last one
    assert shown_image(page) == first.image.url
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert shown_image(page) == third.image.url

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate(FOCUSED_HREF) == detail(third)
    page.keyboard.press("Space")  # Space on the focused image link opens it too
    expect(dialog).to_be_visible()
    assert shown_image(page) == third.image.url
    page.keyboard.press("Escape")
    assert page.evaluate(FOCUSED_HREF) == detail(third)
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

    page.locator(f"#gen-{second.pk} .visual a").click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    assert shown_image(page) == second.image.url
    dialog.get_by_role("button", name="Next image").click()
    assert shown_image(page) == first.image.url
    dialog.get_by_role("button", name="Close the large image").click()
    expect(dialog).to_be_hidden()
    assert page.evaluate(FOCUSED_HREF) == detail(first)  # the card of the image last shown
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

    page.locator(f"#board-item-{first.pk} .visual a").click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    assert shown_image(page) == first.image.url
    page.keyboard.press("ArrowLeft")
    assert shown_image(page) == third.image.url
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate(FOCUSED_HREF) == detail(third)
    assert problems == []


def test_it_links_the_image_to_its_detail_page_without_javascript(
    live_server, new_page, alice, harbours
):
    page = new_page(alice, javascript=False)
    page.goto(f"{live_server.url}/?q=harbour")
    page.locator(f"#gen-{harbours[0].pk} .visual a").click()
    expect(page).to_have_url(f"{live_server.url}{detail(harbours[0])}")
