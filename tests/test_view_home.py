"""The studio page: the generate form above the team's shared history, newest first."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generations import catalog, health
from generations.models import MemberBudget, Status, this_month
from generations.views import PAGE_SIZE
from tests.rows import generation
from tests.support import (
    form_html,
    is_shown,
    kept_balance,
    lightbox_links,
    month_name,
    page_text,
    rivya_failing_since,
)

pytestmark = pytest.mark.django_db


def test_it_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


def test_it_shows_the_whole_teams_history(alice, bob, alice_client):
    generation(alice, prompt="Alice's lighthouse")
    generation(bob, prompt="Bob's harbour")
    body = alice_client.get("/").content.decode()
    assert "Alice&#x27;s lighthouse" in body
    assert "Bob&#x27;s harbour" in body
    assert "Team history" in body


def test_it_shows_newest_first(alice, bob, alice_client):
    generation(alice, prompt="first made")
    generation(bob, prompt="second made")
    body = alice_client.get("/").content.decode()
    assert body.index("second made") < body.index("first made")


def test_it_shows_only_mine_when_asked(alice, bob, alice_client):
    generation(alice, prompt="Alice's lighthouse")
    generation(bob, prompt="Bob's harbour")
    body = alice_client.get("/?who=mine").content.decode()
    assert "Alice&#x27;s lighthouse" in body
    assert "Bob&#x27;s harbour" not in body
    assert "My images" in body


def test_it_pages_with_a_keyset_and_links_to_older(alice, alice_client):
    rows = [generation(alice, Status.FAILED, prompt=f"picture number {i:03d}") for i in range(30)]
    newest_first = [r.pk for r in reversed(rows)]
    first = alice_client.get("/")
    last_shown = newest_first[PAGE_SIZE - 1]
    assert [g.pk for g in first.context["generations"]] == newest_first[:PAGE_SIZE]
    assert f'href="?who=everyone&amp;before={last_shown}"' in first.content.decode()

    second = alice_client.get(f"/?before={last_shown}")
    body = second.content.decode()
    assert [g.pk for g in second.context["generations"]] == newest_first[PAGE_SIZE:]
    assert ">Older<" not in body
    assert ">Newest<" in body


def test_it_keeps_the_switch_while_paging(alice, bob, alice_client):
    mine = [generation(alice, Status.FAILED, prompt=f"alice {i}") for i in range(PAGE_SIZE + 2)]
    generation(bob, Status.FAILED, prompt="bob in between")
    body = alice_client.get("/?who=mine").content.decode()
    assert f"?who=mine&amp;before={mine[2].pk}" in body


def test_it_ignores_a_before_that_is_not_a_number(alice, alice_client):
    generation(alice, prompt="still here")
    response = alice_client.get("/?before=abc")
    assert response.status_code == 200
    assert "still here" in response.content.decode()


def test_it_hides_deleted_generations(alice, alice_client):
    generation(alice, prompt="kept one")
    generation(alice, prompt="deleted one", deleted_at=timezone.now())
    body = alice_client.get("/").content.decode()
    assert "kept one" in body
    assert "deleted one" not in body


def test_it_welcomes_a_member_with_no_generations(alice_client):
    response = alice_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<article" not in body
    assert "No images yet. Write a prompt above to make the first one." in body
    assert 'id="generate-form"' in body


def test_it_tells_a_member_without_images_how_to_start_on_mine(bob, alice_client):
    generation(bob, prompt="bob's, not mine")
    body = alice_client.get("/?who=mine").content.decode()
    assert "<article" not in body
    assert "You have no images yet" in body


def test_it_answers_an_htmx_history_request_with_the_partial(alice, alice_client):
    generation(alice, prompt="in the partial")
    response = alice_client.get(
        "/?who=mine", headers={"HX-Request": "true", "HX-Target": "history"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="history"')
    assert "in the partial" in body
    assert "<html" not in body
    assert 'id="generate-form"' not in body


def test_it_answers_other_htmx_requests_with_the_page(alice_client):
    body = alice_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="generate-form"' in body


# -- What the page shows of Rivya: only what beat and the workers kept --------------------------


def keep_balance(credits: int, seconds_ago: float) -> None:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    health.keep(health.BALANCE, {"credits": credits}, at=at)


def test_it_offers_the_documented_models_and_no_balance_when_nothing_is_kept(alice_client):
    response = alice_client.get("/")
    assert [m.id for m in response.context["models"]] == [m.id for m in catalog.DOCUMENTED_MODELS]
    assert response.context["balance"] is None
    assert "data-credits-warning" not in response.content.decode()


def test_it_offers_the_model_list_beat_kept(alice_client):
    listed = [replace(catalog.DOCUMENTED_MODELS[0]), replace(catalog.DOCUMENTED_MODELS[1])]
    health.keep(health.MODELS, [asdict(m) for m in listed])
    page = alice_client.get("/").content.decode()
    start = page.index('id="generate-form"')  # the filter bar lists every model ever used
    body = page[start : page.index("</form>", start)]
    assert '<option value="google-imagen4-fast"' in body
    assert '<option value="google-imagen4-ultra"' not in body
    assert "Imagen 4 Ultra is not available at Rivya right now; the others still are." in page


def test_it_shows_a_fresh_balance_without_its_age(alice_client):
    keep_balance(5, seconds_ago=10)
    body = page_text(alice_client.get("/"))
    assert "The team's Rivya account has 5 credits left, less than this model costs" in body
    assert "As of" not in body


def test_it_says_when_an_old_balance_was_read(alice_client):
    keep_balance(5, seconds_ago=600)
    body = page_text(alice_client.get("/"))
    read_at = timezone.localtime(kept_balance().at).strftime("%H:%M")
    assert f"As of {read_at}, the team's Rivya account had 5 credits left" in body


def test_it_shows_no_banner_while_rivya_works(alice, alice_client):
    generation(alice, Status.QUEUED)
    body = page_text(alice_client.get("/"))
    assert (
        '<div id="rivya-banner" class="warning rivya-banner" role="status" data-state="" hidden> '
        "</div>"
    ) in body


def test_it_says_rivya_is_down_since_when_and_that_the_images_are_saved(alice, alice_client):
    generation(alice, Status.QUEUED)
    rivya_failing_since(300)
    body = page_text(alice_client.get("/"))
    since = timezone.localtime(health.health().last_success).strftime("%H:%M")
    assert (
        f"Rivya, the service that makes our images, has not been working since {since}. Your "
        "images are saved and will be sent as soon as it is back."
    ) in body


def test_it_shows_no_banner_when_no_work_waits(alice, alice_client):
    generation(alice, Status.SUCCEEDED)
    rivya_failing_since(300)
    assert "has not been working since" not in alice_client.get("/").content.decode()


def test_it_says_a_card_is_waiting_for_rivya_with_its_attempt_and_next_try(alice, alice_client):
    next_try = timezone.now() + timedelta(seconds=45)
    generation(alice, Status.QUEUED, submit_attempts=2, next_check_at=next_try)
    body = page_text(alice_client.get("/"))
    assert re.search(
        r"Waiting for Rivya: attempt 2 did not go through, and the next one is in "
        r'<span data-seconds="4\d" data-ticking="down">4\d s</span>\.',
        body,
    )


def test_it_says_a_late_try_is_due_now(alice, alice_client):
    overdue = timezone.now() - timedelta(seconds=5)
    generation(alice, Status.PROCESSING, poll_errors=3, next_check_at=overdue)
    body = page_text(alice_client.get("/"))
    due = "Waiting for Rivya: attempt 3 did not go through, and the next one is due now."
    assert f'<p class="note waiting">{due}</p>' in body  # shown, not only kept for app.js


def test_it_says_a_card_waits_for_rivya_to_answer_a_try_under_way(alice, alice_client):
    generation(alice, Status.SENDING, submit_attempts=3)
    assert "Waiting for Rivya to answer attempt 3." in alice_client.get("/").content.decode()


def test_it_links_a_cards_image_to_its_detail_page_and_offers_the_full_image(alice, alice_client):
    row = generation(alice, prompt='A "quoted" <b>harbour</b>')
    body = alice_client.get("/").content.decode()
    [(href, image, rest)] = lightbox_links(body)
    assert (href, image) == (f"/generations/{row.pk}/", row.image.url)  # not the thumbnail
    assert 'data-lightbox-prompt="A &quot;quoted&quot; &lt;b&gt;harbour&lt;/b&gt;"' in rest
    assert 'data-lightbox-who="alice"' in rest
    assert body.count('<dialog id="lightbox"') == 1


# -- The member's budget beside the Generate button (issue 12) -------------------------------


def budget_of(alice, limit: int | None, used: int, period=None) -> None:
    MemberBudget.objects.create(
        user=alice, monthly_limit=limit, used=used, period=period or this_month()
    )


def test_it_shows_what_is_left_of_the_budget_this_month(alice, alice_client):
    budget_of(alice, 400, 288)
    html = form_html(alice_client.get("/"))
    assert f"112 of 400 credits left in {month_name()}" in html
    assert not is_shown(html, "data-budget-near")
    assert not is_shown(html, "data-budget-over")


def test_it_says_no_monthly_limit_when_the_member_has_none(alice, alice_client):
    html = form_html(alice_client.get("/"))
    assert "No monthly limit" in html
    assert "data-budget-near" not in html


def test_it_shows_the_default_budget_before_the_first_reservation(alice_client, settings):
    settings.DEFAULT_MONTHLY_BUDGET = 400
    html = form_html(alice_client.get("/"))
    assert f"400 of 400 credits left in {month_name()}" in html


def test_it_shows_a_budget_of_last_month_as_whole(alice, alice_client):
    budget_of(alice, 400, 400, period=this_month() - timedelta(days=1))
    assert f"400 of 400 credits left in {month_name()}" in form_html(alice_client.get("/"))


@pytest.mark.parametrize(("used", "near"), [(311, False), (312, True), (392, True)])
def test_it_warns_when_the_chosen_cost_reaches_80_per_cent(alice, alice_client, used, near):
    budget_of(alice, 400, used)  # the default model costs 8: 312 + 8 is 80 % of 400
    html = form_html(alice_client.get("/"))
    assert is_shown(html, "data-budget-near") == near
    assert "This takes you to 80 % of your monthly budget or more." in html
    assert not is_shown(html, "data-budget-over")


def test_it_warns_ahead_when_the_chosen_cost_does_not_fit(alice, alice_client):
    budget_of(alice, 400, 394)
    html = form_html(alice_client.get("/"))
    assert is_shown(html, "data-budget-over")
    assert not is_shown(html, "data-budget-near")
    assert "This needs <span data-budget-cost>8</span> credits, more than you have left" in html


def test_it_warns_for_the_model_the_form_shows_as_chosen(alice, alice_client):
    budget_of(alice, 400, 308)  # the default model's 8 take it to 79 %, Ultra's 12 to 80 %
    html = form_html(alice_client.get("/"))
    assert not is_shown(html, "data-budget-near")
    row = generation(alice, model="google-imagen4-ultra")
    html = form_html(alice_client.get(f"/?reuse={row.pk}"))
    assert is_shown(html, "data-budget-near")


def test_it_reads_the_budget_in_one_query_whatever_the_number_of_cards(alice, alice_client):
    budget_of(alice, 400, 100)
    generation(alice)
    alice_client.get("/")  # what the page caches for a few seconds (health.READ_SECONDS) is kept
    with CaptureQueriesContext(connection) as one_card:
        alice_client.get("/")
    for _ in range(5):
        generation(alice)
    with CaptureQueriesContext(connection) as six_cards:
        alice_client.get("/")
    budget_reads = [q for q in six_cards.captured_queries if "memberbudget" in q["sql"]]
    assert len(budget_reads) == 1
    assert len(six_cards.captured_queries) == len(one_card.captured_queries)
