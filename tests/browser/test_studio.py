"""The studio in a real browser: the whole path (live server, Celery worker, simulator) is real."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from generations.models import Generation, Status
from tests.rows import generation
from tests.support import beat_refresh, console_problems, finished, screenshot, wait_for

pytestmark = [pytest.mark.browser]

IMAGE_LOADED = """(selector) => {
  const img = document.querySelector(selector);
  return img !== null && img.complete && img.naturalWidth > 0;
}"""


def card_requests(page) -> list[str]:
    """The card refresh requests the page sends from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/generations/cards/" in r.url else None)
    return seen


def wait_until(page, predicate, timeout: float = 5.0) -> None:
    """Wait for ``predicate()`` while letting Playwright deliver its events (a plain sleep
    would not: the sync API only dispatches them inside its own calls)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up after {timeout} s"
        page.wait_for_timeout(50)


def set_visibility(page, state: str) -> None:
    page.evaluate(
        """(state) => {
          const define = (name, value) =>
            Object.defineProperty(document, name, {configurable: true, get: () => value});
          define("visibilityState", state);
          define("hidden", state === "hidden");
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


@pytest.fixture
def alices_image(sim, celery_worker, alice, form_data) -> Generation:
    """An image alice made through the real path (form, worker, simulator, download)."""
    client = Client()
    client.force_login(alice)
    client.post("/generations/", form_data(prompt="A lighthouse at dawn, watercolour"))
    done: Generation = wait_for(lambda: finished(Generation.objects.get().pk), timeout=60)
    assert done.status == Status.SUCCEEDED, done.error_message
    return done


def test_it_signs_in_and_shows_the_card_at_once_then_the_image(
    sim, celery_worker, live_server, alice, new_page
):
    page = new_page()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    screenshot(page, "login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-42")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#history-list .empty")).to_be_visible()
    screenshot(page, "studio-empty")
    page.evaluate("window.marker = 1")

    page.fill("#id_prompt", "A red kite over green hills")
    page.get_by_role("button", name=re.compile("Generate")).click()
    card = page.locator("#history-list article.card").first
    expect(card).to_contain_text("A red kite over green hills")
    expect(card.locator(".visual img")).to_be_visible(timeout=60_000)
    page.wait_for_function(IMAGE_LOADED, arg="#history-list article.card .visual img")

    assert page.evaluate("window.marker") == 1  # the page never navigated
    expect(card).to_contain_text("Done")
    announcer = page.locator("#announcer")  # said once, politely, to a screen reader
    expect(announcer).to_have_text("Your image is done: A red kite over green hills")
    expect(page.locator("#history-list article.card .state[role=status]")).to_have_count(0)
    expect(page.locator("#id_prompt")).to_have_value("A red kite over green hills")
    screenshot(page, "studio-done")


def test_it_shows_alices_image_to_bob_in_the_team_history(alices_image, live_server, bob, new_page):
    page = new_page(bob)
    page.goto(f"{live_server.url}/")
    card = page.locator(f"#gen-{alices_image.pk}")
    expect(card).to_contain_text("A lighthouse at dawn")
    expect(card.locator(".byline")).to_contain_text("alice")
    page.wait_for_function(IMAGE_LOADED, arg=f"#gen-{alices_image.pk} .visual img")
    expect(card.get_by_role("button", name="Delete")).to_have_count(0)

    card.get_by_role("link", name="Details").click()
    expect(page).to_have_url(f"{live_server.url}/generations/{alices_image.pk}/")
    page.wait_for_function(IMAGE_LOADED, arg="img.full")
    screenshot(page, "detail")


def test_it_shows_alices_charge_to_charlie_on_the_usage_page(
    alices_image, live_server, charlie, new_page
):
    beat_refresh()  # the balance the page shows is the one beat last read
    page = new_page(charlie)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Credit usage").click()
    expect(page.get_by_role("heading", name="Credit usage")).to_be_visible()
    per_member = page.get_by_role("region", name="Per member")  # its "Spent" column
    alice_row = per_member.locator("tr", has_text="alice")
    expect(alice_row.locator("td").nth(1)).to_have_text(str(alices_image.credits_final))
    expect(page.locator(".balance")).to_contain_text("credits")
    screenshot(page, "usage")


def test_it_sends_no_refresh_when_nothing_is_pending(alice, live_server, new_page):
    generation(alice, prompt="Finished long ago")
    page = new_page(alice)
    seen = card_requests(page)
    page.goto(f"{live_server.url}/")
    page.wait_for_timeout(2500)  # more than two refresh periods
    assert seen == []


def test_it_refreshes_a_pending_card_with_one_request_for_all(alice, bob, live_server, new_page):
    rows = [generation(alice, Status.QUEUED), generation(bob, Status.PROCESSING)]
    page = new_page(alice)
    seen = card_requests(page)
    page.goto(f"{live_server.url}/")
    expect(page.locator("[data-pending]")).to_have_count(2)
    screenshot(page, "studio-pending")
    wait_until(page, lambda: len(seen) >= 2)
    expected = sorted(str(r.pk) for r in rows)
    assert [sorted(re.findall(r"id=(\d+)", url)) for url in seen] == [expected] * len(seen)


def card_answers(page) -> list[int]:
    """The status of each card refresh answer the page gets from now on."""
    seen: list[int] = []
    page.on("response", lambda r: seen.append(r.status) if "/generations/cards/" in r.url else None)
    return seen


def test_it_turns_a_pending_card_into_its_image_when_the_row_changes(alice, live_server, new_page):
    row = generation(alice, Status.PROCESSING, created_at=timezone.now() - timedelta(seconds=30))
    page = new_page(alice)
    answers = card_answers(page)
    page.goto(f"{live_server.url}/")
    card = page.locator(f"#gen-{row.pk}")
    waited = card.locator(".state [data-seconds]")
    drawn = waited.inner_text()
    wait_until(page, lambda: answers.count(204) >= 2)  # nothing changed: empty answers
    expect(waited).not_to_have_text(drawn)  # the time since it was asked for ticks in the page
    assert 200 not in answers

    stored = generation(alice, prompt="Where the finished files come from")
    Generation.objects.filter(pk=row.pk, status=Status.PROCESSING).update(
        status=Status.SUCCEEDED,
        image=stored.image.name,
        thumbnail=stored.thumbnail.name,
        finished_at=timezone.now(),
    )
    page.wait_for_function(IMAGE_LOADED, arg=f"#gen-{row.pk} .visual img")
    expect(card).to_contain_text("Done")
    expect(page.locator("[data-pending]")).to_have_count(0)
    assert 200 in answers


def test_it_counts_down_to_the_next_try_in_the_page(alice, live_server, new_page):
    page = new_page(alice)
    answers = card_answers(page)
    next_try = timezone.now() + timedelta(seconds=4)
    row = generation(alice, Status.QUEUED, submit_attempts=1, next_check_at=next_try)
    page.goto(f"{live_server.url}/")
    note = page.locator(f"#gen-{row.pk} .note.waiting")
    expect(note).to_contain_text("and the next one is in")
    expect(note).to_have_text(
        "Waiting for Rivya: attempt 1 did not go through, and the next one is due now.",
        timeout=8000,
    )
    assert answers
    assert set(answers) == {204}  # the server was not asked to redraw it


def test_it_pauses_refreshing_while_the_tab_is_hidden(alice, live_server, new_page):
    generation(alice, Status.QUEUED)
    page = new_page(alice)
    seen = card_requests(page)
    page.goto(f"{live_server.url}/")
    wait_until(page, lambda: seen)

    set_visibility(page, "hidden")
    page.wait_for_timeout(300)  # let a request already on its way finish
    seen.clear()
    page.wait_for_timeout(2500)
    assert seen == []

    set_visibility(page, "visible")
    wait_until(page, lambda: seen, timeout=2)


def test_it_deletes_my_card_in_place_after_asking(alice, live_server, new_page):
    row = generation(alice, prompt="Not my best")
    page = new_page(alice)
    page.clock.install()  # time runs as usual until the test moves it on
    page.goto(f"{live_server.url}/")
    page.evaluate("window.marker = 1")
    questions: list[str] = []

    def answer_yes(dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer_yes)
    page.locator(f"#gen-{row.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#gen-{row.pk}")).to_contain_text("Deleted")  # with Undo, for 10 s
    # Undo focused: app.js has set the ten seconds going (htmx settles on a timer first).
    expect(page.get_by_role("button", name="Undo")).to_be_focused()
    page.clock.fast_forward(10_000)
    expect(page.locator(f"#gen-{row.pk}")).to_have_count(0)
    assert questions == ["Delete this image for everyone? You can undo it for ten seconds."]
    assert page.evaluate("window.marker") == 1
    wait_for(lambda: Generation.objects.get(pk=row.pk).deleted_at, timeout=2)
    expect(page.locator("#history-list .empty")).to_be_visible()


def test_it_says_so_when_a_click_gets_an_error(alice, live_server, new_page):
    row = generation(alice, prompt="Deleted in another tab")
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    Generation.objects.filter(pk=row.pk).update(deleted_at=timezone.now())
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"#gen-{row.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator("#request-error")).to_contain_text("That image is gone")
    expect(page.locator("#request-error")).to_be_visible()


def test_it_works_without_javascript(sim, alice, live_server, new_page):
    page = new_page(alice, javascript=False)
    page.goto(f"{live_server.url}/")
    page.fill("#id_prompt", "A barn owl at dusk")
    page.get_by_role("button", name=re.compile("Generate")).click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".messages")).to_contain_text("Your image is on its way.")
    card = page.locator("#history-list article.card").first
    expect(card).to_contain_text("A barn owl at dusk")
    expect(card.get_by_role("link", name="Check again")).to_be_visible()
    assert Generation.objects.get().prompt == "A barn owl at dusk"


def test_it_keeps_the_content_security_policy(sim, celery_worker, alice, live_server, new_page):
    page = new_page(alice)
    problems = console_problems(page)
    page.goto(f"{live_server.url}/")
    page.fill("#id_prompt", "A quiet harbour [sim:fail]")
    page.get_by_role("button", name=re.compile("Generate")).click()
    failed = page.locator("#history-list article.card.status-failed")
    expect(failed).to_be_visible(timeout=60_000)
    screenshot(page, "studio-failed")
    assert [p for p in problems if "Content Security Policy" in p or "CSP" in p] == []
    assert problems == []


def test_it_drops_a_notice_when_the_history_is_switched(alice, live_server, new_page):
    row = generation(alice, prompt="Gone soon")
    page = new_page(alice)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/generations/{row.pk}/")
    page.get_by_role("button", name="Delete").click()  # the detail page's plain form
    expect(page.locator(".messages")).to_contain_text("Deleted.")
    page.locator(".switch").get_by_role("link", name="Mine").click()
    expect(page.locator(".switch a[aria-current=page]")).to_have_text("Mine")
    expect(page.locator(".messages")).to_have_count(0)


def test_it_brings_the_new_card_into_view_on_a_phone(sim, alice, live_server, new_page):
    for n in range(6):
        generation(alice, prompt=f"Older image {n}")
    page = new_page(alice)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    page.fill("#id_prompt", "A kite over the dunes")
    page.get_by_role("button", name=re.compile("Generate")).click()
    card = page.locator("#history-list article.card").first
    expect(card).to_contain_text("A kite over the dunes")
    expect(card).to_be_in_viewport()
