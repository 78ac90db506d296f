"""The admins' credit usage page: the ledger per member and per day, and the Rivya balance."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from django.utils import timezone

from generations import health
from generations.models import BalanceReading, MemberBudget, Status, this_month
from tests.rows import generation, march_noon
from tests.support import beat_refresh, kept_balance, page_text, rivya_failing_since, table_row

pytestmark = pytest.mark.django_db


MARCH = "start=2026-03-01&end=2026-03-31"


def test_a_member_is_told_it_is_the_admins_page(alice_client):
    response = alice_client.get("/usage/")
    assert response.status_code == 403
    assert "<h1>Not for your account</h1>" in page_text(response)
    assert '<a href="/">Back to the studio</a>' in page_text(response)


def test_a_member_is_told_so_in_their_language(alice_thai_client):
    response = alice_thai_client.get("/usage/")
    assert response.status_code == 403
    assert "<h1>หน้านี้ไม่ได้เปิดให้บัญชีของคุณ</h1>" in page_text(response)


def test_it_requires_sign_in(client):
    response = client.get("/usage/")
    assert response.status_code == 302
    assert "/usage/" not in response.content.decode()


def test_it_shows_the_ledger_per_member(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/?{MARCH}")
    # Spent, held, given back, budget this month, succeeded, failed.
    assert table_row(response, "member", "alice") == ["16", "8", "0", "0 used, no limit", "2", "0"]
    assert table_row(response, "member", "bob") == ["0", "0", "12", "0 used, no limit", "0", "1"]


def test_it_shows_the_ledger_per_day(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/?{MARCH}")
    # Spent, given back.
    assert table_row(response, "day", "2026-03-10") == ["8", "0"]
    assert table_row(response, "day", "2026-03-11") == ["8", "12"]
    assert table_row(response, "day", "2026-03-12") == ["0", "0"]


def test_it_shows_the_ledger_per_model(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/?{MARCH}")
    assert table_row(response, "model", "google-imagen4") == ["16", "0"]
    assert table_row(response, "model", "google-imagen4-ultra") == ["0", "12"]
    assert '<tr data-model="google-imagen4-ultra"> <td>Imagen 4 Ultra</td>' in page_text(response)


def test_it_totals_the_period_and_what_is_held(march_ledger, charlie_client):
    totals = charlie_client.get(f"/usage/?{MARCH}").context["report"]["totals"]
    assert totals == {
        "charged": 16,
        "reserved": 36,
        "released": 12,
        "held": 8,
        "succeeded": 2,
        "failed": 1,
    }


def test_it_speaks_plainly(march_ledger, charlie_client):
    body = page_text(charlie_client.get(f"/usage/?{MARCH}"))
    assert (
        "<strong>16</strong> credits spent, 8 held for images still being made, "
        "12 given back for images that failed."
    ) in body
    for word in ("Charged", "Reserved", "Released", "in flight"):
        assert word not in body


def test_it_counts_only_the_period_asked_for(march_ledger, charlie_client):
    response = charlie_client.get("/usage/?start=2026-03-11&end=2026-03-11")
    assert table_row(response, "member", "alice")[:2] == ["8", "0"]
    assert 'data-day="2026-03-10"' not in response.content.decode()
    assert 'data-day="2026-03-12"' not in response.content.decode()


def test_it_shows_each_members_budget_beside_their_spending(march_ledger, alice, charlie_client):
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=24, period=this_month())
    response = charlie_client.get(f"/usage/?{MARCH}")
    assert table_row(response, "member", "alice")[3] == "24 of 400"


def test_a_budget_of_an_earlier_month_counts_as_unused(march_ledger, alice, charlie_client):
    MemberBudget.objects.create(user=alice, monthly_limit=400, used=24, period=date(2020, 1, 1))
    response = charlie_client.get(f"/usage/?{MARCH}")
    assert table_row(response, "member", "alice")[3] == "0 of 400"


def test_a_failure_count_leads_to_the_failures(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/?{MARCH}")
    link = "/?member=bob&amp;status=failed&amp;from=2026-03-01&amp;to=2026-03-31"
    assert f'<a href="{link}">1</a>' in response.content.decode()
    history = charlie_client.get(html.unescape(link))
    assert history.status_code == 200
    assert [g.user.username for g in history.context["generations"]] == ["bob"]
    assert all(g.status == Status.FAILED for g in history.context["generations"])


def test_it_offers_periods_that_keep_their_dates_in_the_url(charlie_client):
    today = timezone.localdate()
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    body = charlie_client.get("/usage/?by=model").content.decode()
    for start, end in (
        (first, today),
        (last_month_end.replace(day=1), last_month_end),
        (today - timedelta(days=6), today),
        (today - timedelta(days=89), today),
    ):
        assert f'href="?start={start}&amp;end={end}&amp;by=model"' in body


def test_a_preset_is_marked_as_the_current_period(charlie_client):
    today = timezone.localdate()
    start = today - timedelta(days=6)
    body = page_text(charlie_client.get(f"/usage/?start={start}&end={today}"))
    assert f'<a href="?start={start}&amp;end={today}&amp;by=member" aria-current="true">' in body


def test_it_draws_the_chart_stacked_by_member(march_ledger, charlie_client):
    body = charlie_client.get(f"/usage/?{MARCH}").content.decode()
    svg = body[body.index('<svg class="chart-svg"') : body.index("</svg>")]
    assert 'role="img"' in svg
    assert "<title>Wed Mar 11, alice: 8 credits</title>" in svg
    assert svg.count("<rect ") == 2  # alice spent on two days; bob spent nothing
    assert "alice: 16 credits" in page_text(body)


def test_it_draws_the_chart_stacked_by_model(march_ledger, charlie_client):
    response = charlie_client.get(f"/usage/?{MARCH}&by=model")
    assert "<title>Tue Mar 10, google-imagen4: 8 credits</title>" in response.content.decode()
    assert [s.name for s in response.context["chart"].series] == ["google-imagen4"]


def test_the_chart_has_a_table_twin(march_ledger, charlie_client):
    chart = charlie_client.get(f"/usage/?{MARCH}").context["chart"]
    assert [(row.day.day, row.values, row.total) for row in chart.rows] == [
        (10, [8], 8),
        (11, [8], 8),
    ]


def test_the_page_needs_no_inline_style_or_script(march_ledger, charlie_client):
    body = charlie_client.get(f"/usage/?{MARCH}").content.decode()
    assert "style=" not in body
    assert "<script>" not in body  # scripts come from static files only


def test_it_links_the_export_of_the_period(charlie_client):
    body = charlie_client.get(f"/usage/?{MARCH}").content.decode()
    assert 'href="/usage/export.csv?start=2026-03-01&amp;end=2026-03-31"' in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-02-30", "Dates are written YYYY-MM-DD"),
        ("start=yesterday", "Dates are written YYYY-MM-DD"),
        ("start=2026-03-12&end=2026-03-01", "The start comes after the end."),
        ("start=1999-12-31", "Dates from 2000-01-01 to 2999-12-31 only."),
        ("start=2024-01-01&end=2026-01-01", "At most a year at once."),
        ("start=2026-03-01\x00", "Dates are written YYYY-MM-DD"),
        ("by=colour", "The chart is stacked by member or by model"),
    ],
)
def test_it_explains_a_bad_query_with_a_400(charlie_client, query, message):
    response = charlie_client.get(f"/usage/?{query}")
    assert response.status_code == 400
    assert message in page_text(response)
    period = response.context["period"]
    assert period.end == timezone.localdate()
    assert period.start == timezone.localdate() - timedelta(days=29)


# -- Does Rivya agree? ---------------------------------------------------------------------------


def readings(*credits_at_days: tuple[int, int]) -> None:
    for credits, day in credits_at_days:
        BalanceReading.objects.create(credits=credits, at=march_noon(day) - timedelta(hours=1))


def test_it_says_when_there_are_too_few_readings(march_ledger, charlie_client):
    readings((1000, 10))
    body = page_text(charlie_client.get(f"/usage/?{MARCH}"))
    assert "Not enough readings of Rivya's balance in this period to compare" in body


def test_it_says_when_rivya_agrees(march_ledger, charlie_client):
    # From before the 10th's hold to before the 12th's: 8 + 8 spent, 12 held and given back.
    readings((1000, 10), (984, 12))
    response = charlie_client.get(f"/usage/?{MARCH}")
    assert response.context["agreement"].ledger == 16
    body = page_text(response)
    assert "It fell by 16; our ledger says 16 were spent or held" in body
    assert 'data-agreement="agree"' in body


def test_it_shows_spending_outside_the_studio(march_ledger, charlie_client):
    readings((1000, 10), (950, 12))
    body = page_text(charlie_client.get(f"/usage/?{MARCH}"))
    assert "Rivya's balance fell by 34 credits more than the studio spent." in body
    assert "compare the tasks in Rivya's dashboard" in body


def test_it_shows_a_top_up(march_ledger, charlie_client):
    readings((1000, 10), (1484, 12))
    body = page_text(charlie_client.get(f"/usage/?{MARCH}"))
    assert "Rivya's balance fell by 500 credits less than the studio spent." in body
    assert "check the account's top-ups" in body


def test_it_shows_the_balance_beat_last_read(sim, charlie_client):
    sim.state.set_credits(4321)
    beat_refresh()
    body = page_text(charlie_client.get("/usage/"))
    assert "Rivya balance: <strong>4,321</strong> credits" in body


def test_it_says_the_balance_is_not_known_before_beat_read_one(charlie_client):
    response = charlie_client.get("/usage/")
    assert response.status_code == 200
    assert "The Rivya balance is not known yet: the studio has not heard it from Rivya." in (
        response.content.decode()
    )


# -- Rivya's health, for admins ------------------------------------------------------------------


def test_it_says_when_an_old_balance_was_read(charlie_client):
    health.keep(health.BALANCE, {"credits": 1234}, at=timezone.now() - timedelta(hours=1))
    body = page_text(charlie_client.get("/usage/"))
    read_at = timezone.localtime(kept_balance().at).strftime("%H:%M")
    assert f"Rivya balance as of {read_at}: <strong>1,234</strong> credits" in body


def test_it_shows_the_last_error_with_its_code_message_and_request_id(alice, charlie_client):
    generation(alice, Status.QUEUED)
    rivya_failing_since(
        300,
        code="internal_error",
        message="Rivya answered with a server error (Internal server error.).",
        request_id="req_0123456789abcdef01234567",
    )
    body = page_text(charlie_client.get("/usage/"))
    assert "has not been working since" in body  # the banner, as members see it
    health_panel = body[body.index('id="rivya-health"') :]
    assert "<code>internal_error</code>. Rivya answered with a server error" in health_panel
    assert "Rivya's request id: <code>req_0123456789abcdef01234567</code>." in health_panel


def test_it_says_when_rivya_last_answered(sim, charlie_client):
    beat_refresh()
    body = charlie_client.get("/usage/").content.decode()
    answered_at = timezone.localtime(health.health().last_success).strftime("%H:%M")
    assert f"Rivya answered last at {answered_at}." in body
    assert "The model list is from" in body


def test_it_says_the_studio_has_not_called_rivya_yet(charlie_client):
    body = charlie_client.get("/usage/").content.decode()
    assert "The studio has not called Rivya yet." in body
    assert "the form offers the documented Imagen 4 models" in body


def test_it_reads_dates_typed_in_thai_digits(march_ledger, charlie_client):
    period = charlie_client.get("/usage/?start=๒๐๒๖-๐๓-๑๑&end=๒๐๒๖-๐๓-๑๑").context["period"]
    assert (period.start.isoformat(), period.end.isoformat(), period.error) == (
        "2026-03-11",
        "2026-03-11",
        "",
    )
