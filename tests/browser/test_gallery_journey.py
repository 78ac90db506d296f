"""Issue 11's "done when": one member goes through the whole gallery in a real browser, each step
on what the step before left, with a real worker making the images against the simulator.

Four images in one request, search in English and Thai, each filter and the shared link, a
favorite, a board and its zip, reuse, retry, cancel, undo, a download whose metadata reads back,
and the lightbox with the keyboard. (The view tests cover permissions and bad parameters; this
covers the journey.)"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from generations.models import Generation, Status
from tests.rows import generation
from tests.support import png_text, screenshot, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def team_history(alice, bob):
    """What the team made before today's session: bob's images in two languages, shapes and
    models, one failed, and alice's own queued one that was never sent."""
    week_ago = timezone.now() - timedelta(days=7)
    return {
        "bicycle": generation(
            bob, prompt="A red bicycle by a canal", aspect_ratio="16:9", created_at=week_ago
        ),
        "cat": generation(bob, prompt="แมวส้มนอนบนโซฟา ภาพสีน้ำ", aspect_ratio="1:1"),
        "kite": generation(
            bob, prompt="A kite over the dunes", model="google-imagen4-ultra", aspect_ratio="9:16"
        ),
        "failed": generation(alice, Status.FAILED, prompt="A lighthouse at dusk, oil painting"),
        "queued": generation(alice, Status.QUEUED, prompt="Never sent: a paper boat"),
    }


def prompts_shown(page) -> list[str]:
    return list(page.locator("#history-list article.card .prompt").all_inner_texts())


def apply_filter(page, **choices: str) -> None:
    """Fill the filter bar (labels as a member reads them) and press Show."""
    bar = page.get_by_role("search", name="Find images")
    for label, value in choices.items():
        field = bar.get_by_label(label, exact=True)
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    bar.get_by_role("button", name="Show").click()


def four_in_one_request(page) -> None:
    page.fill("#id_count", "4")
    page.fill("#id_prompt", "Four paper boats on a pond")
    page.locator("#generate-form button[type=submit]").click()
    card = page.locator("#history-list article.card").first
    expect(card.locator(".prompt")).to_have_text("Four paper boats on a pond")
    expect(card.locator(".visual img")).to_have_count(4, timeout=60_000)
    expect(card).to_contain_text("4 of 4 done")
    expect(page.locator("#history-list article.card", has_text="paper boats")).to_have_count(1)
    card.get_by_role("link", name="Details").click()
    expect(page.locator("img.full")).to_have_count(4)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download image 2").click()
    assert png_text(Path(download.value.path()).read_bytes())["Description"] == (
        "Four paper boats on a pond"
    )


def search_and_filter(page, live_server, new_page, alice, history) -> None:
    page.get_by_label("Search prompts").fill("bicycle")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#history-list article.card")).to_have_count(1)
    assert prompts_shown(page) == ["A red bicycle by a canal"]

    page.get_by_label("Search prompts").fill("แมวส้ม")  # Thai has no spaces between words
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#history-list article.card .prompt")).to_have_text(
        ["แมวส้มนอนบนโซฟา ภาพสีน้ำ"]
    )
    page.get_by_label("Search prompts").fill("")

    for choices, expected in [
        ({"Member": "bob"}, 3),
        ({"Model": "google-imagen4-ultra"}, 1),
        ({"Shape": "9:16"}, 1),
        ({"Status": "failed"}, 1),
        ({"Status": "pending", "Member": "alice"}, 1),  # the queued one; the four are done
    ]:
        page.goto(f"{live_server.url}/")
        apply_filter(page, **choices)
        expect(page.locator("#history-list article.card")).to_have_count(expected)

    page.goto(f"{live_server.url}/")
    day = timezone.localdate() - timedelta(days=7)
    apply_filter(page, From=day.isoformat(), To=day.isoformat())
    expect(page.locator("#history-list article.card .prompt")).to_have_text(
        ["A red bicycle by a canal"]
    )
    query = parse_qs(urlsplit(page.url).query)
    assert (query["from"], query["to"]) == ([day.isoformat()], [day.isoformat()])
    shared = new_page(alice)  # the address is a link a member can send
    shared.goto(page.url)
    expect(shared.locator("#history-list article.card .prompt")).to_have_text(
        ["A red bicycle by a canal"]
    )
    shared.close()


def star_and_board(page, live_server, history) -> None:
    bicycle = history["bicycle"]
    page.goto(f"{live_server.url}/")
    card = page.locator(f"#gen-{bicycle.pk}")
    card.get_by_role("button", name="Star").click()
    expect(card.get_by_role("button", name="Star")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Starred by me").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#history-list article.card .prompt")).to_have_text(
        ["A red bicycle by a canal"]
    )

    page.goto(f"{live_server.url}/boards/")
    page.get_by_label("New board").fill("Canals")
    page.get_by_role("button", name="Make board").click()
    page.goto(f"{live_server.url}/")
    card = page.locator(f"#gen-{bicycle.pk}")
    card.get_by_text("Add to board").click()
    card.get_by_role("button", name="Add to Canals").click()
    expect(card).to_contain_text("Added to “Canals”.")
    page.goto(f"{live_server.url}/boards/")
    page.get_by_role("link", name="Canals").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all as a zip").click()
    data = Path(download.value.path()).read_bytes()
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) == 1


def reuse_retry_cancel_undo(page, live_server, history) -> None:
    page.goto(f"{live_server.url}/generations/{history['kite'].pk}/")
    page.get_by_role("link", name="Reuse settings").click()
    expect(page.locator("#id_prompt")).to_have_value("A kite over the dunes")
    expect(page.locator("input[name=aspect_ratio][value='9:16']")).to_be_checked()
    expect(page.locator("[data-model-select]")).to_have_value("google-imagen4-ultra")

    page.goto(f"{live_server.url}/")
    page.locator(f"#gen-{history['failed'].pk}").get_by_role("button", name="Retry").click()
    first = page.locator("#history-list article.card").first
    expect(first.locator(".prompt")).to_have_text("A lighthouse at dusk, oil painting")
    expect(first.locator(".visual img")).to_be_visible(timeout=60_000)  # the worker made it

    queued = page.locator(f"#gen-{history['queued'].pk}")
    queued.get_by_role("button", name="Cancel").click()
    expect(queued).to_contain_text("You cancelled this image before it was sent to Rivya.")
    cancelled = Generation.objects.get(pk=history["queued"].pk)
    assert (cancelled.status, cancelled.error_code) == (Status.FAILED, "cancelled")

    retried = page.locator(f"#{first.get_attribute('id')}")  # .first moves once it is gone
    page.on("dialog", lambda dialog: dialog.accept())
    retried.get_by_role("button", name="Delete").click()
    expect(retried).to_contain_text("Deleted")
    retried.get_by_role("button", name="Undo").click()
    expect(retried.locator(".prompt")).to_have_text("A lighthouse at dusk, oil painting")


def download_and_lightbox(page, live_server, history) -> None:
    page.goto(f"{live_server.url}/generations/{history['cat'].pk}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").first.click()
    text = png_text(Path(download.value.path()).read_bytes())
    assert text["Description"] == "แมวส้มนอนบนโซฟา ภาพสีน้ำ"

    page.goto(f"{live_server.url}/?member=bob")
    links = page.locator("#history-list [data-lightbox]")
    expect(links).to_have_count(3)
    links.first.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    first_prompt = dialog.locator("[data-lightbox-prompt]").inner_text()
    page.keyboard.press("ArrowRight")
    expect(dialog.locator("[data-lightbox-prompt]")).not_to_have_text(first_prompt)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    wait_for(lambda: page.evaluate("document.activeElement.hasAttribute('data-lightbox')"))


def test_a_member_finds_keeps_reuses_and_takes_away_the_teams_work(
    sim, celery_worker, live_server, new_page, alice, team_history
):
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    four_in_one_request(page)
    page.goto(f"{live_server.url}/")
    search_and_filter(page, live_server, new_page, alice, team_history)
    star_and_board(page, live_server, team_history)
    reuse_retry_cancel_undo(page, live_server, team_history)
    download_and_lightbox(page, live_server, team_history)
    screenshot(page, "gallery-journey")
    assert not re.search(r"error", page.locator("#request-error").inner_text(), re.I)
