"""Reuse and undo in a real browser: a colleague's image made again from its detail page with a
new seed, its prompt copied, and a deleted card brought back within ten seconds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from generations.models import Generation
from tests.rows import generation
from tests.support import screenshot, wait_for

pytestmark = [pytest.mark.browser]


def test_it_fills_the_studio_from_a_detail_page_with_a_new_seed(alice, bob, live_server, new_page):
    bobs = generation(
        bob,
        prompt="A red bicycle by a canal",
        negative_prompt="cars",
        aspect_ratio="16:9",
        model="google-imagen4-ultra",
        seed=4242,
    )
    page = new_page(alice)
    page.goto(f"{live_server.url}/generations/{bobs.pk}/")
    expect(page.locator(".facts")).to_contain_text("4242")
    page.get_by_role("link", name="Same settings, new seed").click()

    expect(page).to_have_url(f"{live_server.url}/?reuse={bobs.pk}&seed=new")
    expect(page.locator(".messages")).to_contain_text("These settings are from bob's image of")
    expect(page.locator("#id_prompt")).to_have_value("A red bicycle by a canal")
    expect(page.locator("#id_negative_prompt")).to_have_value("cars")
    expect(page.locator("#id_model")).to_have_value("google-imagen4-ultra")
    expect(page.locator('input[name="aspect_ratio"][value="16:9"]')).to_be_checked()
    expect(page.locator("#id_seed")).to_have_value("")
    screenshot(page, "reuse-new-seed")


def test_it_copies_the_prompt_and_says_so(alice, live_server, new_page):
    row = generation(alice, prompt="A paper boat on a puddle")
    page = new_page(alice)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/generations/{row.pk}/")
    actions = page.locator(".reuse-actions")
    actions.get_by_role("button", name="Copy prompt").click()
    expect(actions.get_by_role("status")).to_have_text("The prompt is copied.")
    assert page.evaluate("navigator.clipboard.readText()") == "A paper boat on a puddle"


def test_it_deletes_a_card_and_undoes_it_within_ten_seconds(alice, live_server, new_page):
    row = generation(alice, prompt="Deleted by mistake")
    page = new_page(alice)
    page.clock.install()  # time runs as usual until the test moves it on
    page.goto(f"{live_server.url}/")
    page.on("dialog", lambda dialog: dialog.accept())
    card = page.locator(f"#gen-{row.pk}")

    card.get_by_role("button", name="Delete").click()
    expect(card).to_contain_text("Deleted")
    expect(card).not_to_contain_text("Deleted by mistake")
    undo = card.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()  # the keyboard is where the Delete button was
    wait_for(lambda: Generation.objects.get(pk=row.pk).deleted_at, timeout=2)
    screenshot(page, "deleted-undo")

    undo.click()
    expect(card).to_contain_text("Deleted by mistake")
    expect(card.get_by_role("button", name="Delete")).to_be_visible()
    assert Generation.objects.get(pk=row.pk).deleted_at is None

    card.get_by_role("button", name="Delete").click()
    # Focused means app.js has taken the notice in and set its ten seconds going; htmx settles on
    # a timer too, so moving the clock before then would skip the removal under load.
    expect(card.get_by_role("button", name="Undo")).to_be_focused()
    page.clock.fast_forward(10_000)
    expect(card).to_have_count(0)  # ten seconds on, the undo is gone
    expect(page.locator("#history-list .empty")).to_be_visible()
    assert Generation.objects.get(pk=row.pk).deleted_at is not None


def test_it_says_too_late_when_undo_comes_after_ten_seconds(alice, live_server, new_page):
    row = generation(alice, prompt="Gone for good")
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    page.on("dialog", lambda dialog: dialog.accept())
    card = page.locator(f"#gen-{row.pk}")
    card.get_by_role("button", name="Delete").click()
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    long_ago = timezone.now() - timedelta(minutes=1)  # as if the undo came a minute late
    Generation.objects.filter(pk=row.pk).update(deleted_at=long_ago)
    card.get_by_role("button", name="Undo").click()
    expect(page.locator("#request-error")).to_have_text(re.compile(r"^Too late to undo"))
    expect(page.locator("#request-error")).to_be_visible()
