"""The generate form follows the model list and the account's credits, as beat last read them
from the simulator (home page)."""

from __future__ import annotations

import re

import pytest

from generations.models import Generation
from tests.support import beat_refresh, page_text

pytestmark = pytest.mark.django_db


def home(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 200
    return page_text(response)


def generate_form(page: str) -> str:
    """The generate form alone: the history's filter bar lists every model ever used too."""
    start = page.index('id="generate-form"')
    return page[start : page.index("</form>", start)]


def option(page: str, model_id: str) -> str | None:
    form = generate_form(page)
    found = re.search(rf'<option value="{re.escape(model_id)}"[^>]*>', form)
    return found.group(0) if found else None


def warning(page: str) -> str | None:
    found = re.search(r"<div class=\"warning\"[^>]*data-credits-warning[^>]*>", page)
    return found.group(0) if found else None


def test_it_offers_each_imagen_model_with_its_cost_and_default_ratio(sim, alice_client):
    page = home(alice_client)
    for model_id, credits, ratio in [
        ("google-imagen4", 8, "1:1"),
        ("google-imagen4-fast", 4, "16:9"),
        ("google-imagen4-ultra", 12, "1:1"),
    ]:
        tag = option(page, model_id)
        assert tag is not None
        assert f'data-credits="{credits}"' in tag
        assert f'data-ratio="{ratio}"' in tag
    assert "data-model-select" in page
    # Drawn by the server, the cost of each image (app.js shows the whole request's).
    assert '<span data-cost data-total="credits"> · 8 credits each </span>' in page


def test_it_names_an_unavailable_model_and_offers_the_others(sim, alice_client):
    sim.faults.unavailable_models = {"google-imagen4-ultra"}
    beat_refresh()
    page = home(alice_client)
    assert option(page, "google-imagen4-ultra") is None
    assert option(page, "google-imagen4") is not None
    assert "Google Imagen 4 Ultra is not available at Rivya right now; the others still are." in (
        page
    )


def test_it_names_a_model_that_left_the_list(sim, alice_client):
    sim.faults.removed_models = {"google-imagen4-fast"}
    beat_refresh()
    page = home(alice_client)
    assert option(page, "google-imagen4-fast") is None
    assert "Imagen 4 Fast is not available at Rivya right now; the others still are." in page


def test_it_says_so_when_no_imagen_model_is_left(sim, alice_client):
    sim.faults.removed_models = {"google-imagen4", "google-imagen4-fast", "google-imagen4-ultra"}
    beat_refresh()
    page = home(alice_client)
    assert "No Imagen 4 model is available at Rivya right now." in page
    assert re.search(r'<button type="submit" class="primary"\s+disabled', page)


def test_it_refuses_a_model_that_went_away_since_the_form_was_shown(sim, alice_client, form_data):
    sim.faults.removed_models = {"google-imagen4-ultra"}
    beat_refresh()  # the list no longer has it; the form still offers it (shown before)
    response = alice_client.post("/generations/", form_data(model="google-imagen4-ultra"))
    assert response.status_code == 400
    assert "google-imagen4-ultra is not available at Rivya right now; pick another model." in (
        response.content.decode()
    )
    assert Generation.objects.count() == 0
    assert sim.state.create_requests == 0


def test_it_warns_before_submitting_when_the_balance_is_below_the_cost(sim, alice_client):
    sim.state.set_credits(6)
    beat_refresh()
    page = home(alice_client)
    tag = warning(page)
    assert tag is not None
    assert "hidden" not in tag
    assert 'data-balance="6"' in tag
    assert "has 6 credits left, less than this model costs (<span data-warning-cost>8</span>)" in (
        page
    )


def test_it_keeps_the_warning_hidden_while_the_chosen_model_is_affordable(sim, alice_client):
    sim.state.set_credits(10)  # enough for Imagen 4 (8), not for Ultra (12): app.js shows it then
    beat_refresh()
    tag = warning(home(alice_client))
    assert tag is not None
    assert "hidden" in tag
    assert 'data-balance="10"' in tag


def test_it_warns_for_the_model_the_member_chose(sim, alice_client, form_data):
    sim.state.set_credits(10)
    beat_refresh()
    response = alice_client.post("/generations/", form_data(model="google-imagen4-ultra", seed="x"))
    assert response.status_code == 400
    tag = warning(response.content.decode())
    assert tag is not None
    assert "hidden" not in tag


def test_it_shows_no_warning_when_rivya_cannot_tell_the_balance(alice_client):
    beat_refresh()  # the app points at a closed port here: nothing is kept
    assert warning(home(alice_client)) is None
