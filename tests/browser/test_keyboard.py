"""The studio with the keyboard alone (issue 13): sign in, write a prompt, pick a shape, generate,
open the image, close it, star it, put it on a board, delete it and undo, with only key presses
and typing, no click. At each step, and after each htmx swap, the focus is where a keyboard user
expects it, and they can see it (a :focus-visible ring)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from generations.models import Board, Generation, Status
from tests.rows import generation
from tests.support import finished, wait_for

pytestmark = [pytest.mark.browser]

FOCUSED = "(selector) => document.activeElement && document.activeElement.matches(selector)"
# What a person sees of the focus: the element matches :focus-visible and draws a ring (an
# outline or a box-shadow) at least 2 px wide.
RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || !el.matches(":focus-visible")) return 0;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth);
  const shadow = style.boxShadow && style.boxShadow !== "none" ? 2 : 0;
  return Math.max(outline, shadow);
}"""


def tab_to(page: Any, selector: str, most: int = 60, key: str = "Tab") -> None:
    """Press Tab (or ``key``) until the focus is on ``selector``; fail after ``most`` presses."""
    for _ in range(most):
        if page.evaluate(FOCUSED, selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{most} presses of {key} did not reach {selector}")


def focus_is_on(page: Any, selector: str) -> None:
    """The focus is on ``selector`` (waiting for a swap or a dialog to settle), and it shows."""
    wait_for(lambda: page.evaluate(FOCUSED, selector), timeout=10)
    assert page.evaluate(RING) >= 2, f"the focus on {selector} is not visible"


def test_a_member_makes_opens_and_deletes_an_image_with_the_keyboard_alone(
    sim, celery_worker, live_server, alice, new_page
):
    Board.objects.create(name="Dunes", maker=alice)
    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the browser's own "Delete …?" box
    page.goto(f"{live_server.url}/")

    # Sign in: the username field first, Tab to the password, Enter sends.
    tab_to(page, "#id_username")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("alice-password-42")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")

    # Ctrl+Enter with no prompt sends nothing: the browser asks for one, the focus stays there.
    tab_to(page, "#id_prompt")
    focus_is_on(page, "#id_prompt")
    page.keyboard.press("Control+Enter")
    focus_is_on(page, "#id_prompt:invalid")
    assert not Generation.objects.exists()

    # Write a prompt; in the shapes an arrow key picks the next one, as in any radio group. A seed
    # that is not a number: Ctrl+Enter sends, and the focus goes to the field the studio refused.
    page.keyboard.type("A red kite over the dunes")
    tab_to(page, "#id_seed")
    page.keyboard.type("many")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#id_seed")).to_have_attribute("aria-invalid", "true")
    focus_is_on(page, "#id_seed")
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    tab_to(page, "input[name=aspect_ratio]", key="Shift+Tab")
    focus_is_on(page, "input[name=aspect_ratio]:checked")
    page.keyboard.press("ArrowRight")
    picked = page.evaluate("document.activeElement.value")
    assert picked != "1:1"
    focus_is_on(page, f'input[name=aspect_ratio][value="{picked}"]:checked')

    # Generate: the focus stays on the button pressed (the form is drawn afresh around it).
    tab_to(page, "#generate-form button[type=submit]")
    page.keyboard.press("Enter")
    wait_for(lambda: Generation.objects.exists())
    made = Generation.objects.get()
    assert made.aspect_ratio == picked
    expect(page.locator(f"#gen-{made.pk}")).to_be_visible()
    focus_is_on(page, "#generate-form button[type=submit]")
    done = wait_for(lambda: finished(made.pk), timeout=60)
    assert done.status == Status.SUCCEEDED, done.error_message

    # Open the image large: Enter on its link; the close button has the focus, Esc closes, and
    # the focus is back on the link.
    link = f"#gen-{made.pk} a[data-lightbox]"
    expect(page.locator(link)).to_be_visible()
    tab_to(page, link)
    focus_is_on(page, link)
    page.keyboard.press("Enter")
    expect(page.locator("#lightbox")).to_be_visible()
    focus_is_on(page, "#lightbox [data-lightbox-close]")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_be_hidden()
    focus_is_on(page, link)

    # Star it, and put it on a board: each control is drawn again by its answer, and the focus
    # stays on it (the star now pressed, the board's button now "Remove from").
    card = f"#gen-{made.pk}"
    tab_to(page, f"{card} button.star")
    page.keyboard.press("Enter")
    expect(page.locator(f"{card} button.star")).to_have_attribute("aria-pressed", "true")
    focus_is_on(page, f"{card} button.star")
    tab_to(page, f"{card} .board-menu summary")
    page.keyboard.press("Enter")
    tab_to(page, f"{card} .board-menu-list button")
    page.keyboard.press("Enter")
    expect(page.locator(f"{card} .board-menu-list button.on-board")).to_be_visible()
    focus_is_on(page, f"{card} .board-menu-list button.on-board")

    # Delete it: "Deleted · Undo" takes the card's place with the focus on Undo; Undo brings the
    # card back with the focus on its first control; Delete again.
    tab_to(page, f"{card} button.danger")
    focus_is_on(page, f"{card} button.danger")
    page.keyboard.press("Enter")
    expect(page.locator(f"{card}.deleted")).to_be_visible()
    focus_is_on(page, f"{card} [data-undo]")
    page.keyboard.press("Enter")
    expect(page.locator(f"{card}:not(.deleted)")).to_be_visible()
    focus_is_on(page, link)
    tab_to(page, f"{card} button.danger")
    page.keyboard.press("Enter")
    focus_is_on(page, f"{card} [data-undo]")
    wait_for(lambda: Generation.objects.filter(pk=made.pk, deleted_at__isnull=False).exists())


def test_a_card_that_moves_on_keeps_the_focus_on_its_control(live_server, alice, new_page):
    waiting = generation(alice, Status.PROCESSING)
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    copy = f"#gen-{waiting.pk} [data-copy]"
    tab_to(page, copy)
    Generation.objects.filter(pk=waiting.pk).update(
        status=Status.FAILED, finished_at=timezone.now(), error_code="generation_failed"
    )
    expect(page.locator(f"#gen-{waiting.pk}.status-failed")).to_be_visible()  # drawn again
    focus_is_on(page, copy)
