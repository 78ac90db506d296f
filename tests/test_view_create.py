"""The generate form: one POST saves one row and enqueues one job; bad input changes nothing."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from datetime import date, timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from generations import health
from generations.catalog import DOCUMENTED_MODELS
from generations.models import Generation, LedgerEntry, MemberBudget, Status, TeamBudget
from tests.support import (
    RESERVED_AND_CHARGED,
    form_html,
    is_shown,
    kept_balance,
    ledger_entries_of,
    month_name,
    page_text,
    remote_tasks_for,
    run_until_finished,
)

pytestmark = pytest.mark.django_db


def cards_in(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="gen-(\d+)"', body)]


def this_month() -> date:
    return date.today().replace(day=1)


@pytest.fixture
def enqueued():
    with mock.patch("generations.tasks.submit_generation.delay") as delay:
        yield delay


def test_it_saves_the_generation_and_enqueues_it_after_commit(
    alice_client, form_data, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/generations/", form_data(seed="42"))
    assert response.status_code == 302
    generation = Generation.objects.get()
    assert generation.status == Status.QUEUED
    assert generation.seed == 42
    assert generation.credits_reserved == 8
    enqueued.assert_called_once_with(generation.pk)


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("seed", ["", "not-a-number"])
def test_it_makes_no_remote_call_in_the_request(alice_client, form_data, enqueued, htmx, seed):
    # The caches are empty (conftest clears them): still no model list, balance or create call.
    headers = {"HX-Request": "true"} if htmx else {}
    with mock.patch("generations.rivya.RivyaClient._request") as remote:
        response = alice_client.post("/generations/", form_data(seed=seed), headers=headers)
    assert response.status_code in (200, 302, 400)
    remote.assert_not_called()


def test_it_does_not_ask_for_the_balance_when_it_is_not_cached(alice_client, form_data, enqueued):
    with mock.patch("generations.rivya.RivyaClient.get_credits") as get_credits:
        response = alice_client.post("/generations/", form_data(), headers={"HX-Request": "true"})
    assert response.status_code == 200
    get_credits.assert_not_called()


def test_it_returns_the_card_and_a_fresh_form_to_htmx(alice_client, form_data, enqueued):
    data = form_data(prompt="Red kite over hills")
    response = alice_client.post("/generations/", data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    generation = Generation.objects.get()
    assert f'id="gen-{generation.pk}"' in body
    assert 'hx-swap-oob="true"' in body  # the form comes back with a new token
    assert data["form_token"] not in body
    assert "Red kite over hills" in body


def test_it_makes_one_generation_for_a_form_sent_twice(alice_client, form_data, enqueued):
    data = form_data()
    alice_client.post("/generations/", data)
    alice_client.post("/generations/", data)
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.count() == 1


def test_it_writes_one_reservation(alice_client, form_data, enqueued):
    alice_client.post("/generations/", form_data())
    entry = LedgerEntry.objects.get()
    assert (entry.phase, entry.kind, entry.credits) == ("reservation", "reserve", 8)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prompt", "x" * 5001, "at most 5000 characters"),
        ("prompt", "   ", "Write a prompt"),
        ("seed", "-1", "whole number from 0"),
        ("seed", "12abc", "whole number from 0"),
        ("seed", "1.5", "whole number from 0"),
        ("seed", "99999999999", "whole number from 0"),
        ("aspect_ratio", "2:1", "Select a valid choice"),
        ("model", "google-imagen3", "not available at Rivya right now; pick another model"),
    ],
)
def test_it_refuses_bad_input_next_to_the_field(
    alice_client, form_data, enqueued, field, value, message
):
    response = alice_client.post("/generations/", form_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    enqueued.assert_not_called()


def test_it_keeps_the_input_and_escapes_it(alice_client, form_data, enqueued):
    prompt = '<script>alert("x")</script> a cat'
    response = alice_client.post("/generations/", form_data(prompt=prompt, seed="nope"))
    body = response.content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; a cat" in body
    assert '<script>alert("x")</script>' not in body
    assert 'value="nope"' in body


def test_it_shows_htmx_errors_in_place_of_the_form(alice_client, form_data, enqueued):
    response = alice_client.post(
        "/generations/", form_data(seed="-5"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#generate-form"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "whole number from 0" in response.content.decode()


def test_it_refuses_a_member_over_budget_with_the_numbers(alice, alice_client, form_data, enqueued):
    MemberBudget.objects.create(user=alice, monthly_limit=20, used=16, period=this_month())
    response = alice_client.post("/generations/", form_data())
    assert response.status_code == 400
    message = f"This needs 8 credits; 4 of 20 are left in {month_name()}."
    assert message in response.content.decode()
    assert Generation.objects.count() == 0
    assert MemberBudget.objects.get(user=alice).used == 16
    enqueued.assert_not_called()


def test_it_debits_the_budget(alice, alice_client, form_data, enqueued):
    alice_client.post("/generations/", form_data())
    assert MemberBudget.objects.get(user=alice).used == 8
    assert TeamBudget.objects.get().used == 8


@pytest.mark.parametrize("htmx", [False, True])
def test_it_refuses_what_would_pass_the_team_cap_with_the_numbers_and_reserves_nothing(
    alice, alice_client, form_data, enqueued, htmx
):
    MemberBudget.objects.create(user=alice, monthly_limit=100, used=20, period=this_month())
    TeamBudget.objects.create(monthly_limit=400, used=394, period=this_month())
    headers = {"HX-Request": "true"} if htmx else {}
    response = alice_client.post("/generations/", form_data(), headers=headers)
    assert response.status_code == (200 if htmx else 400)
    message = (
        f"This needs 8 credits; the team has 6 of its 400 left in {month_name()}. "
        "Ask an admin to raise the team's monthly cap."
    )
    assert escape(message) in page_text(response)
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert MemberBudget.objects.get(user=alice).used == 20
    assert TeamBudget.objects.get().used == 394
    enqueued.assert_not_called()


def test_it_shows_what_is_left_after_the_reservation_in_the_fresh_form(
    alice, alice_client, form_data, enqueued
):
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=280, period=this_month())
    response = alice_client.post("/generations/", form_data(), headers={"HX-Request": "true"})
    html = form_html(response)
    assert f"112 of 400 credits left in {month_name()}" in html
    assert not is_shown(html, "data-budget-near")  # 288 + 8 is 74 %
    MemberBudget.objects.filter(user=alice).update(used=304)
    response = alice_client.post("/generations/", form_data(), headers={"HX-Request": "true"})
    html = form_html(response)
    assert f"88 of 400 credits left in {month_name()}" in html
    assert is_shown(html, "data-budget-near")  # 312 + 8 is 80 %


def test_it_rings_for_the_alerts_after_a_reservation(
    alice_client, form_data, enqueued, django_capture_on_commit_callbacks
):
    with (
        mock.patch("generations.tasks.send_alerts.delay") as alerts,
        django_capture_on_commit_callbacks(execute=True),
    ):
        alice_client.post("/generations/", form_data())
    alerts.assert_called_once_with()


def test_it_requires_a_csrf_token(alice, form_data, enqueued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/generations/", form_data())
    assert response.status_code == 403
    assert Generation.objects.count() == 0


def test_it_requires_sign_in(client, form_data, enqueued):
    response = client.post("/generations/", form_data())
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert Generation.objects.count() == 0


def test_it_refuses_get(alice_client):
    assert alice_client.get("/generations/").status_code == 405


def test_it_checks_the_model_against_the_list_beat_kept(alice_client, form_data, enqueued):
    ultra_gone = [replace(m, available=m.id != "google-imagen4-ultra") for m in DOCUMENTED_MODELS]
    health.keep(health.MODELS, [asdict(m) for m in ultra_gone])
    with mock.patch("generations.rivya.RivyaClient._request") as remote:
        response = alice_client.post("/generations/", form_data(model="google-imagen4-ultra"))
    assert response.status_code == 400
    assert "not available at Rivya right now; pick another model" in response.content.decode()
    assert Generation.objects.count() == 0
    remote.assert_not_called()


def test_it_says_how_old_the_balance_is_in_the_fresh_form(alice_client, form_data, enqueued):
    health.keep(health.BALANCE, {"credits": 3}, at=timezone.now() - timedelta(minutes=30))
    response = alice_client.post("/generations/", form_data(), headers={"HX-Request": "true"})
    read_at = timezone.localtime(kept_balance().at).strftime("%H:%M")
    assert f"As of {read_at}, the team's Rivya account had 3 credits left" in (
        response.content.decode()
    )


@pytest.mark.parametrize(("typed", "seed"), [("๔๒", 42), (" ๔2 ", 42), ("๔๒๙๔๙๖๗๒๙๕", 4294967295)])
def test_it_reads_a_seed_typed_in_thai_digits(alice_client, form_data, enqueued, typed, seed):
    response = alice_client.post("/generations/", form_data(seed=typed))
    assert response.status_code == 302
    assert Generation.objects.get().seed == seed


@pytest.mark.parametrize("typed", ["²", "๔²", "๔๒๙๔๙๖๗๒๙๖"])
def test_it_refuses_what_is_not_a_seed_in_any_digits(alice_client, form_data, typed):
    response = alice_client.post("/generations/", form_data(seed=typed))
    assert response.status_code == 400
    assert "whole number from 0" in response.content.decode()
    assert not Generation.objects.exists()


def test_it_puts_the_new_card_at_the_top_even_while_a_filter_it_misses_is_on(
    alice_client, form_data, enqueued
):
    """The member sees what they just asked for (gallery.History); the next filtering does
    not show it."""
    filtered = {"HX-Request": "true", "HX-Current-URL": "http://testserver/?q=tram&status=failed"}
    response = alice_client.post("/generations/", form_data(prompt="Red kite"), headers=filtered)
    generation = Generation.objects.get()
    assert f'id="gen-{generation.pk}"' in response.content.decode()
    again = alice_client.get(
        "/?q=tram&status=failed", headers={"HX-Request": "true", "HX-Target": "history"}
    )
    assert f'id="gen-{generation.pk}"' not in again.content.decode()


# -- Several images per request (issue 11) ---------------------------------------------------------


@pytest.mark.parametrize("count", ["0", "5", "x", "-1", "2.5"])
def test_it_refuses_a_bad_count_beside_the_field_and_reserves_nothing(
    alice, alice_client, form_data, enqueued, count
):
    response = alice_client.post("/generations/", form_data(count=count))
    assert response.status_code == 400
    body = response.content.decode()
    assert re.search(
        r'<p class="field-error" id="id_count_error">\s*'
        r"Ask for a whole number of images from 1 to 4.\s*</p>",
        body,
    )
    assert 'aria-invalid="true"' in body
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert not MemberBudget.objects.filter(user=alice, used__gt=0).exists()
    enqueued.assert_not_called()


def test_it_makes_one_image_when_the_count_is_left_out(alice_client, form_data, enqueued):
    alice_client.post("/generations/", form_data())
    assert Generation.objects.count() == 1


def test_it_refuses_a_request_the_budget_has_room_for_only_in_part(
    alice, alice_client, form_data, enqueued
):
    # Room for two images of 8 credits; four are asked for: none is saved or reserved.
    MemberBudget.objects.create(user=alice, monthly_limit=20, used=4, period=this_month())
    response = alice_client.post("/generations/", form_data(count="4"))
    assert response.status_code == 400
    message = f"This needs 32 credits; 16 of 20 are left in {month_name()}."
    assert message in page_text(response)
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert MemberBudget.objects.get(user=alice).used == 4
    enqueued.assert_not_called()


def test_it_reserves_every_image_of_a_request_in_one_debit(
    alice, alice_client, form_data, enqueued, django_capture_on_commit_callbacks
):
    MemberBudget.objects.create(user=alice, monthly_limit=32, used=0, period=this_month())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/generations/", form_data(count="4", seed="7"))
    assert response.status_code == 302
    rows = list(Generation.objects.order_by("batch_position"))
    assert [r.batch_position for r in rows] == [0, 1, 2, 3]
    assert [r.batch_lead_id for r in rows] == [None, rows[0].pk, rows[0].pk, rows[0].pk]
    assert [r.seed for r in rows] == [7, 8, 9, 10]  # each image differs, and can be made again
    assert len({r.uuid for r in rows}) == 4
    assert MemberBudget.objects.get(user=alice).used == 32
    reserved = LedgerEntry.objects.filter(kind="reserve").values_list("generation_id", "credits")
    assert sorted(reserved) == [(r.pk, 8) for r in rows]
    assert sorted(c.args[0] for c in enqueued.call_args_list) == [r.pk for r in rows]


def test_it_makes_one_request_for_a_form_of_four_sent_twice(alice_client, form_data, enqueued):
    data = form_data(count="4")
    alice_client.post("/generations/", data)
    alice_client.post("/generations/", data)
    assert Generation.objects.count() == 4
    assert LedgerEntry.objects.count() == 4


def test_it_picks_a_seed_for_each_image_when_it_is_left_empty(alice_client, form_data, enqueued):
    alice_client.post("/generations/", form_data(count="3"))
    rows = list(Generation.objects.all())
    assert all(r.seed is not None and r.seed_picked for r in rows)


def test_it_returns_one_card_for_a_request_of_four(alice_client, form_data, enqueued):
    response = alice_client.post(
        "/generations/", form_data(count="4"), headers={"HX-Request": "true"}
    )
    lead = Generation.objects.get(batch_lead__isnull=True)
    assert cards_in(response.content.decode()) == [lead.pk]
    assert "0 of 4 done" in page_text(response)


def test_it_makes_four_tasks_at_rivya_and_charges_each_once(
    sim, alice, alice_client, form_data, enqueued
):
    response = alice_client.post("/generations/", form_data(count="4"))
    assert response.status_code == 302
    rows = list(Generation.objects.order_by("batch_position"))
    for row in rows:
        assert run_until_finished(row).status == Status.SUCCEEDED
    assert sim.state.creates_total == 4
    tasks = [task for row in rows for task in remote_tasks_for(sim, row)]
    assert len({task.id for task in tasks}) == 4  # one task per image, each under its own key
    assert {task.idempotency_key for task in tasks} == {str(r.uuid) for r in rows}
    for row in rows:
        assert ledger_entries_of(row) == RESERVED_AND_CHARGED
    home = alice_client.get("/")
    assert cards_in(home.content.decode()) == [rows[0].pk]
    detail = alice_client.get(f"/generations/{rows[0].pk}/").content.decode()
    assert detail.count('class="full"') == 4
    assert "4 of 4 done" in page_text(detail)


def test_it_refuses_a_request_the_teams_cap_has_room_for_only_in_part(
    alice, alice_client, form_data, enqueued
):
    TeamBudget.objects.create(pk=TeamBudget.ID, monthly_limit=20, used=4, period=this_month())
    response = alice_client.post("/generations/", form_data(count="3"))
    assert response.status_code == 400
    assert "This needs 24 credits; the team has 16 of its 20 left" in page_text(response)
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert TeamBudget.objects.get().used == 4
    assert not MemberBudget.objects.filter(used__gt=0).exists()
