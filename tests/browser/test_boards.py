"""Boards in a real browser: make one, add an image, see it there, download the zip, remove it."""

from __future__ import annotations

import re
import zipfile

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from generations.models import Board, BoardItem
from tests.rows import generation
from tests.support import screenshot

pytestmark = [pytest.mark.browser]


def test_it_makes_a_board_adds_an_image_downloads_the_zip_and_removes_it(
    alice, bob, live_server, new_page
):
    image = generation(bob, prompt="A lighthouse at dawn, watercolour")
    page = new_page(alice)
    page.goto(f"{live_server.url}/boards/")
    expect(page.get_by_text("There are no boards yet.")).to_be_visible()
    page.get_by_label("New board").fill("Sea lights")
    page.get_by_role("button", name="Make board").click()

    board = Board.objects.get()
    expect(page).to_have_url(f"{live_server.url}/boards/{board.pk}/")
    expect(page.get_by_text("The board “Sea lights” is made.")).to_be_visible()
    expect(page.get_by_role("heading", name="Sea lights")).to_be_visible()
    page.get_by_role("button", name="Add “A lighthouse at dawn, watercolour” to this board").click()

    expect(page.get_by_text("Added to “Sea lights”.")).to_be_visible()
    tile = page.locator(f"#board-item-{image.pk}")
    expect(tile).to_contain_text("A lighthouse at dawn, watercolour")
    assert BoardItem.objects.filter(board=board, generation=image).exists()
    screenshot(page, "board")

    with page.expect_download() as event:
        page.get_by_role("link", name="Download all as a zip").click()
    download = event.value
    assert download.suggested_filename == "Sea lights.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert archive.namelist() == ["a-lighthouse-at-dawn-watercolour.png"]
        with default_storage.open(str(image.image.name), "rb") as stored:
            assert archive.read("a-lighthouse-at-dawn-watercolour.png") == stored.read()

    page.evaluate("window.marker = 1")
    tile.get_by_role("button", name="Remove").click()
    expect(tile).to_have_count(0)
    expect(page.get_by_text(re.compile("No images on this board yet"))).to_be_visible()
    assert page.evaluate("window.marker") == 1  # removed in place, by htmx, without a reload
    assert not BoardItem.objects.filter(board=board).exists()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_a_cards_menu_adds_its_image_to_the_board_chosen(
    alice, bob, live_server, new_page, javascript
):
    """Each board is a button of the card's one form, naming its board's URL (formaction): the
    image goes on the board pressed, with htmx in place and without JavaScript by a redirect."""
    image = generation(bob, prompt="A lighthouse at dawn, watercolour")
    other = generation(bob, prompt="A harbour at night")
    Board.objects.create(name="Autumn", maker=alice)
    chosen = Board.objects.create(name="Sea lights", maker=alice)
    page = new_page(alice, javascript=javascript)
    page.goto(f"{live_server.url}/")
    card = page.locator(f"#gen-{image.pk}")
    card.get_by_text("Add to board").click()
    card.get_by_role("button", name="Add to Sea lights").click()

    expect(page.get_by_text("Added to “Sea lights”.")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    assert list(BoardItem.objects.values_list("board", "generation")) == [(chosen.pk, image.pk)]
    assert not BoardItem.objects.filter(generation=other).exists()
