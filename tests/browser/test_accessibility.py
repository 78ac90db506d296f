"""WCAG 2.1 AA in a real browser (issue 13): axe-core finds no violation on any page or state a
member or an admin meets, in English and in Thai; and nothing moves for someone who asked their
system for less motion.

One browser context per language walks every page (a context costs more than a page), switching
who is signed in by session cookie; the rows are put straight into the database (tests/rows.py).
axe is put into the page by ``page.evaluate``, which the page's Content-Security-Policy does not
govern, so the policy stays as strict as members get it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from generations import health
from generations.models import (
    Board,
    BoardItem,
    Favorite,
    MemberBudget,
    MemberPreference,
    RivyaSnapshot,
    Status,
    this_month,
)
from tests.browser.conftest import session_key
from tests.rows import batch, generation, ledger_entry
from tests.support import beat_refresh, rivya_failing_since

pytestmark = [pytest.mark.browser]

AXE = Axe()
WCAG_21_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
# Every animation that will end (a dialog fading in), ended; a spinner's never does.
SETTLED = """Promise.all(document.getAnimations()
    .filter(animation => animation.effect.getTiming().iterations !== Infinity)
    .map(animation => animation.finished))"""
RUNNING_ANIMATIONS = "document.getAnimations().filter(a => a.playState === 'running').length"
PROBE = '<html lang="{language}"><title>Probe</title><main><button></button></main></html>'
LOCALES = {"en": "en-GB", "th": "th-TH"}


def violations(page: Any) -> list[str]:
    """What axe finds wrong on the page as it is now: each rule's id and impact, with the
    selector of every element that breaks it."""
    found = AXE.run(page, options=WCAG_21_AA).response["violations"]
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at "
        + "; ".join(" ".join(node["target"]) for node in rule["nodes"])
        for rule in found
    ]


class Walk:
    """Pages visited in one browser page, and what axe found on each: one run reports every
    page's violations at once, not just the first page's."""

    def __init__(self, page: Any, base: str, language: str) -> None:
        self.page, self.base, self.language = page, base, language
        self.found: dict[str, list[str]] = {}

    def visit(self, path: str) -> Any:
        response = self.page.goto(f"{self.base}{path}")
        expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        return response

    def check(self, state: str) -> None:
        self.page.evaluate(SETTLED)  # colours as drawn: an element still fading in reads faint
        problems = violations(self.page)
        if problems:
            self.found[state] = problems

    def sign_in_as(self, user: User) -> None:
        self.page.context.clear_cookies()
        name, value = settings.SESSION_COOKIE_NAME, session_key(user)
        self.page.context.add_cookies([{"name": name, "value": value, "url": self.base}])

    def report(self) -> str:
        lines = [f"axe found WCAG 2.1 A/AA violations ({self.language}):"]
        for state, problems in self.found.items():
            lines += [f"- {state}:", *(f"    {problem}" for problem in problems)]
        return "\n".join(lines)


def seed(alice: User, bob: User) -> dict[str, int]:
    """The team's history: alice's request of three images (two made, one failed), an image of
    hers she starred, one being made and one waiting to be sent again, a failed one of bob's,
    with their ledger entries; a budget for alice, a board with an image and empty ones."""
    made = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED, prompt="A harbour")
    starred = generation(alice, prompt="A harbour at noon")
    Favorite.objects.create(user=alice, generation=starred)
    pending = generation(alice, Status.PROCESSING, prompt="A lighthouse at dawn")
    soon = timezone.now() + timedelta(minutes=1)
    generation(alice, Status.QUEUED, prompt="A mill", submit_attempts=2, next_check_at=soon)
    failed = generation(bob, Status.FAILED, prompt="A forest in fog", model="google-imagen4-ultra")
    for row in (*made, starred, pending, failed):
        ledger_entry(row, "reserve", row.credits_reserved)
    for row in (*made[:2], starred):
        ledger_entry(row, "charge", row.credits_reserved)
    for row in (made[2], failed):
        ledger_entry(row, "release", row.credits_reserved)
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=24, period=this_month())
    board = Board.objects.create(name="Harbours", maker=alice)
    BoardItem.objects.create(board=board, generation=made[0], added_by=alice)
    Board.objects.create(name="Forests", maker=bob)  # where the board menu adds an image
    Board.objects.create(name="Mountains", maker=bob)  # stays empty
    return {"lead": made[0].pk, "starred": starred.pk, "board": board.pk}


def walk_signed_out(walk: Walk) -> None:
    page = walk.page
    walk.visit("/accounts/login/")
    walk.check("sign-in")
    for attempt in range(settings.AXES_FAILURE_LIMIT):  # the last one locks "mallory" out
        page.locator("input[name=username]").fill("mallory")
        page.locator("input[name=password]").fill("not-the-password")
        page.locator("button.primary[type=submit]").click()
        if attempt == 0:
            expect(page.locator("form .error[role=alert]")).to_be_visible()
            walk.check("sign-in, wrong password")
    expect(page.locator("main h1")).to_have_count(1)
    assert page.locator("input[name=password]").count() == 0, "not the lockout page"
    walk.check("locked out")


def walk_the_studio(walk: Walk, alice: User, bob: User) -> dict[str, int]:
    page = walk.page
    walk.visit("/")
    walk.check("studio, empty")
    content = seed(alice, bob)
    walk.visit("/")
    walk.check("studio, cards made, failed, being made and waiting")
    page.locator(f"#gen-{content['lead']} .board-menu summary").click()
    page.locator(f"#gen-{content['lead']} .board-menu-list button").first.click()
    expect(page.locator(".board-menu-note")).to_be_visible()
    walk.check("studio, board menu open, an image just added")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#gen-{content['starred']} button.danger").click()
    expect(page.locator(".card.deleted")).to_be_visible()
    walk.check("studio, an image just deleted (Undo)")
    walk.visit(f"/?reuse={content['lead']}")
    walk.check("studio, settings reused (a message)")
    walk.visit("/?q=harbour&status=succeeded&model=google-imagen4")
    walk.check("gallery, filtered")
    page.locator(".card .visual a").first.click()
    expect(page.locator("#lightbox")).to_be_visible()
    walk.check("lightbox open")
    walk.visit("/?q=harbour&status=failed&favorites=1")
    walk.check("gallery, no image matches")
    assert walk.visit("/?from=not-a-date").status == 400
    walk.check("gallery, a filter refused")
    return content


def walk_the_members_pages(walk: Walk, content: dict[str, int]) -> None:
    walk.visit(f"/generations/{content['lead']}/")
    walk.check("detail of a request of three")
    walk.visit("/boards/")
    walk.check("boards")
    walk.visit(f"/boards/{content['board']}/")
    walk.check("a board")
    walk.visit("/usage/me/")
    walk.check("my usage")
    assert walk.visit("/generations/999999/").status == 404
    walk.check("page not found")
    assert walk.visit("/usage/").status == 403  # an admin's page: the studio's 403
    walk.check("a member on an admin's page (403)")
    RivyaSnapshot.objects.filter(key=health.LAST_SUCCESS).delete()  # beat's, of a minute ago
    rivya_failing_since(600)  # and alice's images wait to be sent
    walk.visit("/")
    expect(walk.page.locator("#rivya-banner")).to_be_visible()
    walk.check("studio, Rivya down (the banner)")


def walk_the_admins_pages(walk: Walk) -> None:
    walk.visit("/usage/")
    walk.check("credit usage, with the export")
    walk.visit("/usage/?start=2026-03-31&end=2026-03-01")
    expect(walk.page.locator(".field-error[role=alert]")).to_be_visible()
    walk.check("credit usage, a period refused")


@pytest.mark.parametrize("language", ["en", "th"])
def test_no_page_has_a_wcag_21_aa_violation(
    live_server, new_page, sim, alice, bob, charlie, language
):
    beat_refresh()  # the model list and the balance, as beat keeps them: the form members see
    for user in (alice, charlie):
        MemberPreference.objects.create(user=user, language=language)
    page = new_page(locale=LOCALES[language])  # the browser's language, before signing in
    walk = Walk(page, live_server.url, language)

    # The probe itself: a button without a name is a violation it reports.
    page.set_content(PROBE.format(language=language))
    assert [problem.split()[0] for problem in violations(page)] == ["button-name"]

    walk_signed_out(walk)
    walk.sign_in_as(alice)
    content = walk_the_studio(walk, alice, bob)
    walk_the_members_pages(walk, content)
    walk.sign_in_as(charlie)
    walk_the_admins_pages(walk)
    if walk.found:
        pytest.fail(walk.report(), pytrace=False)


def test_nothing_moves_when_less_motion_is_asked_for(live_server, new_page, alice):
    generation(alice, Status.PROCESSING, prompt="A lighthouse at dawn")  # a spinner
    generation(alice, prompt="A harbour")  # an image for the lightbox
    page = new_page(alice)
    page.goto(f"{live_server.url}/")
    expect(page.locator(".spinner")).to_be_visible()
    assert page.evaluate(RUNNING_ANIMATIONS) > 0, "the spinner does not spin: nothing to test"

    page.emulate_media(reduced_motion="reduce")
    page.reload()
    expect(page.locator(".spinner")).to_be_visible()
    assert page.evaluate(RUNNING_ANIMATIONS) == 0
    page.locator(".card .visual a").first.click()
    expect(page.locator("#lightbox")).to_be_visible()
    assert page.evaluate(RUNNING_ANIMATIONS) == 0
