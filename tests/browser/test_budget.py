"""The member's budget beside the Generate button in a real browser: the line, the 80 % warning
and the refusal ahead of time follow the chosen model (static/js/app.js), the line follows a
submit (the fresh form htmx swaps in), and without JavaScript the server's text is true for the
model the form shows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generations.models import MemberBudget, this_month
from tests.support import month_name

pytestmark = [pytest.mark.browser]


def studio(new_page, live_server, alice, used: int, *, javascript: bool = True):
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=used, period=this_month())
    page = new_page(alice, javascript=javascript)
    page.goto(f"{live_server.url}/")
    return page


def test_it_warns_as_the_chosen_model_reaches_80_per_cent(new_page, live_server, alice):
    page = studio(new_page, live_server, alice, used=308)  # 8, 4 and 12 credits a model
    expect(page.locator("#budget-line")).to_have_text(f"92 of 400 credits left in {month_name()}")
    near = page.locator("[data-budget-near]")
    expect(near).to_be_hidden()  # Imagen 4: 316 of 400 is 79 %
    page.select_option("[data-model-select]", "google-imagen4-ultra")
    expect(near).to_be_visible()  # 320 is 80 %
    expect(near).to_have_text("This takes you to 80 % of your monthly budget or more.")
    page.select_option("[data-model-select]", "google-imagen4-fast")
    expect(near).to_be_hidden()


def test_it_says_ahead_when_the_chosen_model_does_not_fit(new_page, live_server, alice):
    page = studio(new_page, live_server, alice, used=390)
    near, over = page.locator("[data-budget-near]"), page.locator("[data-budget-over]")
    expect(near).to_be_visible()
    expect(over).to_be_hidden()
    page.select_option("[data-model-select]", "google-imagen4-ultra")
    expect(over).to_be_visible()
    expect(over).to_contain_text("This needs 12 credits, more than you have left this month.")
    expect(near).to_be_hidden()


def test_it_shows_what_is_left_after_a_submit(new_page, live_server, alice):
    page = studio(new_page, live_server, alice, used=304)
    near = page.locator("[data-budget-near]")
    expect(near).to_be_hidden()  # 312 of 400 is 78 %
    page.fill("#generate-form textarea[name=prompt]", "A red kite over the dunes")
    page.click("#generate-form button[type=submit]")
    expect(page.locator("#budget-line")).to_have_text(f"88 of 400 credits left in {month_name()}")
    expect(near).to_be_visible()  # the next 8 would make 320: 80 %


def test_it_tells_the_truth_for_the_default_model_without_javascript(new_page, live_server, alice):
    page = studio(new_page, live_server, alice, used=312, javascript=False)
    expect(page.locator("#budget-line")).to_have_text(f"88 of 400 credits left in {month_name()}")
    expect(page.locator("[data-budget-near]")).to_be_visible()  # Imagen 4: 320 is 80 %
