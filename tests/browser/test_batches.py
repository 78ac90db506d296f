"""Several images per request (issue 11) in a real browser: the live server, a Celery worker and
the simulator are real. One request of four is one card, whose images arrive in it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from generations.models import Generation, Status
from tests.support import screenshot

pytestmark = [pytest.mark.browser]


def test_one_request_of_four_is_one_card_whose_images_arrive(
    sim, celery_worker, live_server, alice, new_page
):
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    button = page.locator("#generate-form button[type=submit]")
    expect(button).to_have_text("Generate · 8 credits")
    page.fill("#id_count", "4")
    expect(button).to_have_text("Generate · 4 × 8 = 32 credits")  # noqa: RUF001 (as shown)
    page.fill("#id_prompt", "Four paper boats on a pond")
    button.click()

    cards = page.locator("#history-list article.card")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_contain_text("of 4 done")
    expect(card.locator(".visual > *")).to_have_count(4)
    expect(card.locator(".visual img")).to_have_count(4, timeout=60_000)
    expect(card).to_contain_text("4 of 4 done")
    expect(card).not_to_have_attribute("data-pending", re.compile(".*"))
    expect(cards).to_have_count(1)
    screenshot(page, "batch-of-four")

    lead = Generation.objects.get(batch_lead__isnull=True)
    assert Generation.objects.filter(batch_lead=lead, status=Status.SUCCEEDED).count() == 3
    card.get_by_role("link", name="Details").click()
    expect(page.locator("img.full")).to_have_count(4)
    expect(page.get_by_role("link", name="Download image 4")).to_be_visible()


def test_the_button_says_credits_each_without_javascript(live_server, alice, new_page, sim):
    page = new_page(alice, javascript=False)
    page.goto(f"{live_server.url}/")
    expect(page.locator("#generate-form button[type=submit]")).to_have_text(
        "Generate · 8 credits each"
    )
