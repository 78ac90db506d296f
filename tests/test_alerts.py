"""Alerts to the admins (generations/alerts.py): one mail per threshold and period, claimed by a
unique row before it is sent; a mail that could not be sent is sent again later, once. The
same with real worker processes under retries: tests/faults/test_alerts.py."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone, translation

from generations import alerts, health, tasks
from generations.models import AlertSent, MemberBudget, MemberPreference, TeamBudget, this_month
from tests.support import make_user, month_name, settings_refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(charlie):
    charlie.email = "charlie@example.com"
    charlie.save()
    return charlie


def budget_of(user, limit: int, used: int) -> None:
    MemberBudget.objects.update_or_create(
        user=user, defaults={"monthly_limit": limit, "used": used, "period": this_month()}
    )


def team_cap(limit: int, used: int) -> None:
    TeamBudget.objects.update_or_create(
        pk=TeamBudget.ID, defaults={"monthly_limit": limit, "used": used, "period": this_month()}
    )


def subjects(mailoutbox) -> list[str]:
    return [m.subject for m in mailoutbox]


def let_claims_run_out() -> None:
    """Move every claim back past ALERT_RESEND_AFTER_SECONDS, as if that time had passed."""
    AlertSent.objects.update(claimed_at=timezone.now() - timedelta(days=1))


def test_it_tells_the_admins_once_when_a_member_reaches_80_per_cent(admin, alice, bob, mailoutbox):
    make_user("dora", staff=True)  # an admin without an email address gets nothing
    budget_of(alice, 400, 320)
    budget_of(bob, 400, 319)
    assert alerts.send_due() == 1
    assert alerts.send_due() == 0
    (mail,) = mailoutbox
    assert mail.to == ["charlie@example.com"]
    assert mail.subject == "[Imagen Studio] alice has used 80 % of their monthly budget"
    assert f"alice has used 320 of their 400 credits in {month_name()}" in mail.body


def test_it_tells_100_per_cent_once_more(admin, alice, mailoutbox):
    budget_of(alice, 400, 320)
    alerts.send_due()
    budget_of(alice, 400, 400)
    alerts.send_due()
    alerts.send_due()
    assert subjects(mailoutbox) == [
        "[Imagen Studio] alice has used 80 % of their monthly budget",
        "[Imagen Studio] alice has used 100 % of their monthly budget",
    ]
    assert "They cannot generate again this month" in mailoutbox[1].body


def test_it_tells_both_thresholds_when_one_step_passes_them(admin, alice, mailoutbox):
    budget_of(alice, 10, 10)
    assert alerts.send_due() == 2
    assert AlertSent.objects.filter(sent_at__isnull=False).count() == 2


def test_it_tells_the_team_cap_at_80_and_100_per_cent(admin, mailoutbox):
    team_cap(1000, 850)
    alerts.send_due()
    team_cap(1000, 1000)
    alerts.send_due()
    assert subjects(mailoutbox) == [
        "[Imagen Studio] The team has used 80 % of its monthly cap",
        "[Imagen Studio] The team has used 100 % of its monthly cap",
    ]
    assert f"The team has used 1000 of its 1000 credits in {month_name()}" in mailoutbox[1].body


def test_it_says_nothing_of_budgets_without_a_limit_or_of_last_month(admin, alice, mailoutbox):
    MemberBudget.objects.create(user=alice, monthly_limit=None, used=5000)
    TeamBudget.objects.create(monthly_limit=100, used=100, period=this_month() - timedelta(1))
    assert alerts.send_due() == 0
    assert not AlertSent.objects.exists()


def test_it_tells_a_low_balance_once_and_again_after_a_top_up(admin, settings, mailoutbox):
    settings.LOW_BALANCE_CREDITS = 500
    health.keep(health.BALANCE, {"credits": 430})
    alerts.send_due()
    alerts.send_due()
    assert subjects(mailoutbox) == ["[Imagen Studio] Rivya's balance is under 500 credits"]
    assert "The team's Rivya account had 430 credits" in mailoutbox[0].body
    health.keep(health.BALANCE, {"credits": 5000})  # topped up: the alert is armed again
    alerts.send_due()
    health.keep(health.BALANCE, {"credits": 80})
    alerts.send_due()
    assert len(mailoutbox) == 2
    assert "had 80 credits" in mailoutbox[1].body


def test_it_tells_no_balance_alert_when_none_is_set(admin, settings, mailoutbox):
    settings.LOW_BALANCE_CREDITS = 0
    health.keep(health.BALANCE, {"credits": 0})
    assert alerts.send_due() == 0


def test_it_sends_again_later_what_the_mail_server_refused_once(admin, alice, mailoutbox):
    budget_of(alice, 100, 80)
    refused = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    with mock.patch("generations.alerts.send_mail", side_effect=refused):
        assert alerts.send_due() == 0
    claim = AlertSent.objects.get()
    assert claim.sent_at is None
    assert alerts.send_due() == 0  # claimed a moment ago: another worker may be sending it
    let_claims_run_out()
    assert alerts.send_due() == 1
    assert alerts.send_due() == 0
    assert len(mailoutbox) == 1
    assert AlertSent.objects.get().sent_at is not None


def test_it_leaves_a_fresh_claim_of_another_worker_alone(admin, alice, mailoutbox):
    budget_of(alice, 100, 80)
    AlertSent.objects.create(
        kind="member",
        subject=str(alice.pk),
        period=this_month(),
        threshold=80,
        claimed_at=timezone.now(),
    )
    assert alerts.send_due() == 0
    assert mailoutbox == []


def test_it_sends_nothing_when_another_worker_claimed_it_after_we_looked(admin, alice, mailoutbox):
    budget_of(alice, 100, 80)
    with mock.patch("generations.alerts._sent_or_being_sent", return_value=set()):
        assert alerts.send_due() == 1  # the other worker, which looked at the same moment
        assert alerts.send_due() == 0  # its INSERT is refused, and the claim is fresh
        let_claims_run_out()
        AlertSent.objects.update(sent_at=timezone.now())
        assert alerts.send_due() == 0  # sent: never taken over, however old the claim
    assert len(mailoutbox) == 1


def test_it_claims_nothing_while_no_admin_has_an_email_address(charlie, alice, mailoutbox):
    budget_of(alice, 100, 100)
    assert alerts.send_due() == 0
    assert not AlertSent.objects.exists()  # told once an admin adds an address


def test_the_task_sends_through_alerts(admin, alice, mailoutbox):
    budget_of(alice, 100, 100)
    assert tasks.send_alerts.apply().get() == 2


def test_a_balance_refresh_rings_for_the_alerts(sim):
    with mock.patch("generations.tasks.send_alerts.delay") as ring:
        assert tasks.refresh_balance.apply().get()
    ring.assert_called_once_with()


@pytest.mark.parametrize("name", ["LOW_BALANCE_CREDITS", "ALERT_RESEND_AFTER_SECONDS"])
def test_a_negative_alert_knob_stops_start_up(name):
    assert f"ImproperlyConfigured: {name} must be 0 or more, not -1" in settings_refused(
        {name: "-1"}
    )


def test_a_low_balance_that_is_not_a_number_stops_start_up():
    message = "LOW_BALANCE_CREDITS must be a whole number, not 'lots'"
    assert message in settings_refused({"LOW_BALANCE_CREDITS": "lots"})


def test_each_admin_reads_it_in_their_own_language(admin, alice, mailoutbox):
    dora = make_user("dora", staff=True)
    dora.email = "dora@example.com"
    dora.save()
    MemberPreference.objects.create(user=dora, language="th")
    budget_of(alice, 400, 320)
    assert alerts.send_due() == 1
    by_reader = {tuple(m.to): m for m in mailoutbox}
    assert by_reader.keys() == {("charlie@example.com",), ("dora@example.com",)}
    english, thai = by_reader[("charlie@example.com",)], by_reader[("dora@example.com",)]
    assert english.subject == "[Imagen Studio] alice has used 80 % of their monthly budget"
    assert thai.subject == "[Imagen Studio] alice ใช้งบประมาณรายเดือนไปแล้ว 80 %"
    with translation.override("th"):
        assert f"alice ใช้ไปแล้ว 320 จาก 400 เครดิตในเดือน{month_name()}" in thai.body
    assert "admin" not in thai.body


def test_a_low_balance_says_its_time_in_each_admins_zone(admin, settings, mailoutbox):
    settings.LOW_BALANCE_CREDITS = 500
    MemberPreference.objects.create(user=admin, language="th", time_zone="Asia/Bangkok")
    health.keep(health.BALANCE, {"credits": 430}, at=datetime(2026, 3, 3, 4, 29, tzinfo=UTC))
    alerts.send_due()
    (mail,) = mailoutbox
    assert mail.subject == "[Imagen Studio] เครดิตคงเหลือใน Rivya ต่ำกว่า 500 เครดิต"
    assert "430 เครดิต ณ 3 มีนาคม 2026, 11:29" in mail.body


def test_an_admin_who_never_chose_reads_the_sites_language(admin, settings, mailoutbox):
    settings.LANGUAGE_CODE = "th"
    team_cap(1000, 850)
    alerts.send_due()
    assert mailoutbox[0].subject == "[Imagen Studio] ทีมใช้เครดิตไปแล้ว 80 % ของเพดานรายเดือน"
