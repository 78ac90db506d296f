"""The usage pages in a real browser: the chart drawn on the server, with and without JavaScript,
nothing the CSP refuses, and a member's way to their own page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support import screenshot

pytestmark = [pytest.mark.browser]

MARCH = "start=2026-03-01&end=2026-03-31"


def csp_refusals(page) -> list[str]:
    """Console messages of anything the Content Security Policy refused from now on."""
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return refused


@pytest.mark.parametrize("javascript", [True, False])
def test_an_admin_sees_the_chart_and_switches_it_to_models(
    march_ledger, charlie, live_server, new_page, javascript
):
    page = new_page(charlie, javascript=javascript)
    refused = csp_refusals(page)
    page.goto(f"{live_server.url}/usage/?{MARCH}")
    chart = page.get_by_role("img", name="Credits spent per day, by member")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 2
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300  # drawn across the page, not collapsed
    assert box["height"] > 100
    page.get_by_role("link", name="By model").click()
    expect(page.get_by_role("img", name="Credits spent per day, by model")).to_be_visible()
    assert "by=model" in page.url
    assert "start=2026-03-01" in page.url  # the period stays in the URL
    page.get_by_text("The chart as a table", exact=True).click()
    twin = page.get_by_role("region", name="The chart as a table")
    expect(twin.get_by_role("cell", name="google-imagen4")).to_have_count(0)  # a header, not a cell
    expect(twin.get_by_role("columnheader", name="google-imagen4")).to_be_visible()
    screenshot(page, f"usage-chart-{'js' if javascript else 'no-js'}")
    assert refused == []


def test_a_member_opens_their_own_usage_from_the_header(march_ledger, alice, live_server, new_page):
    page = new_page(alice)
    refused = csp_refusals(page)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="My usage").click()
    expect(page.get_by_role("heading", name="Your credit usage")).to_be_visible()
    page.goto(f"{live_server.url}/usage/me/?{MARCH}")
    expect(page.get_by_role("img", name="Credits spent per day, by model")).to_be_visible()
    expect(page.get_by_role("link", name="2 images made")).to_be_visible()
    screenshot(page, "usage-me")
    assert refused == []
