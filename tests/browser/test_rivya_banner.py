"""The Rivya banner in a real browser: it appears while Rivya hangs and work waits, and goes away
by itself when Rivya answers again (live server, in-process Celery worker, simulator)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.fault(36)]


@pytest.fixture
def hanging_rivya(sim, settings):
    """Rivya accepts every call and answers none within our half-second deadline."""
    settings.RIVYA_READ_TIMEOUT = 0.5
    settings.RIVYA_TOTAL_TIMEOUT = 0.5
    settings.RIVYA_DOWN_AFTER_SECONDS = 1
    sim.faults.timeout(count=-1, seconds=2)
    return sim


def test_the_banner_comes_during_an_outage_and_goes_by_itself(
    hanging_rivya, celery_worker, live_server, alice, new_page
):
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    banner = page.locator("#rivya-banner")
    expect(banner).to_be_hidden()

    page.fill("#id_prompt", "A lighthouse in a storm")
    page.get_by_role("button", name=re.compile("Generate")).click()
    card = page.locator("#history-list article.card").first
    expect(banner).to_be_visible(timeout=30_000)
    expect(banner).to_contain_text("Rivya, the service that makes our images, has not been working")
    expect(banner).to_contain_text("Your images are saved and will be sent as soon as it is back.")
    expect(card).to_contain_text("Waiting for Rivya", timeout=30_000)
    screenshot(page, "rivya-down")

    hanging_rivya.faults.reset()  # Rivya is back; nobody touches the page
    expect(banner).to_be_hidden(timeout=30_000)
    expect(card.locator(".visual img")).to_be_visible(timeout=60_000)
    expect(card).to_contain_text("Done")
    screenshot(page, "rivya-back")
