"""The model select in a real browser: static/js/app.js keeps the button's cost, the credits
warning and the default aspect ratio in step with the chosen model."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support import beat_refresh

pytestmark = [pytest.mark.browser]


@pytest.fixture
def form(sim, live_server, alice, new_page):
    sim.state.set_credits(10)  # enough for Imagen 4 (8), not for Imagen 4 Ultra (12)
    beat_refresh()
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    return page


def test_it_shows_the_chosen_models_cost_on_the_button(form):
    button = form.locator("#generate-form button[type=submit]")
    expect(button).to_have_text("Generate · 8 credits")
    form.select_option("[data-model-select]", "google-imagen4-fast")
    expect(button).to_have_text("Generate · 4 credits")


def test_it_moves_the_ratio_to_the_models_default_until_the_member_picks_one(form):
    form.select_option("[data-model-select]", "google-imagen4-fast")
    expect(form.locator("input[name=aspect_ratio][value='16:9']")).to_be_checked()
    form.locator("input[name=aspect_ratio][value='3:4']").check(force=True)
    form.select_option("[data-model-select]", "google-imagen4-ultra")
    expect(form.locator("input[name=aspect_ratio][value='3:4']")).to_be_checked()


def test_it_warns_when_the_chosen_model_costs_more_than_the_balance(form):
    warning = form.locator("[data-credits-warning]")
    expect(warning).to_be_hidden()
    form.select_option("[data-model-select]", "google-imagen4-ultra")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("has 10 credits left, less than this model costs (12)")
    form.select_option("[data-model-select]", "google-imagen4")
    expect(warning).to_be_hidden()


def test_it_says_so_when_the_models_default_moves_the_shape(form):
    form.select_option("[data-model-select]", "google-imagen4-fast")
    note = form.locator("[data-ratio-note]")
    expect(note).to_have_text(
        "Google Imagen 4 Fast makes 16:9 images unless you pick another shape, so the shape is "
        "now 16:9."  # the model's name as Rivya's list gives it
    )


def test_it_keeps_the_shape_the_member_sent_after_a_form_error(form):
    form.locator("input[name=aspect_ratio][value='1:1']").check(force=True)
    form.fill("#id_seed", "not a number")
    form.fill("#id_prompt", "A lighthouse at dusk")
    form.locator("#generate-form button[type=submit]").click()
    expect(form.locator("#id_seed")).to_be_focused()  # focus goes to the field with the error
    form.select_option("[data-model-select]", "google-imagen4-fast")
    expect(form.locator("input[name=aspect_ratio][value='1:1']")).to_be_checked()
    expect(form.locator("[data-ratio-note]")).to_have_text("")


def test_ctrl_enter_in_the_prompt_sends_the_form(form):
    form.fill("#id_seed", "-1")  # an answer from the server shows that the form went
    form.fill("#id_prompt", "A red kite")
    form.locator("#id_prompt").press("Control+Enter")
    expect(form.locator("#id_seed_error")).to_contain_text("The seed must be a whole number")
    expect(form.locator("#id_seed")).to_be_focused()
