"""Alerts by email to the admins (active ``is_staff`` users with an email address): a member past
80 % and 100 % of their monthly budget, the team past 80 % and 100 % of its monthly cap, and
Rivya's balance under ``LOW_BALANCE_CREDITS``. Each is sent once per period (the month) and
threshold, however many workers look at once and however often a task is retried:

1. An alert is claimed by the INSERT of its :class:`AlertSent` row (kind, subject, period and
   threshold are unique together), ``sent_at`` empty. Only the worker whose INSERT went in sends.
2. Once the mail server has taken the mail, ``sent_at`` is set.
3. A row still without ``sent_at`` after ``ALERT_RESEND_AFTER_SECONDS`` (the mail server refused
   the mail, or the worker died while sending) is claimed again, by a conditional update of its
   ``claimed_at``, and sent again. So an alert is never lost; it goes out twice only if a worker
   dies after the mail server took it and before ``sent_at`` was written.

The balance alert is told again after a top-up: a kept balance at or above the threshold deletes
the balance rows claimed before it was read, so the next fall under the threshold is news.

Each admin reads an alert in their own language and time zone (their ``MemberPreference``, else
``settings.LANGUAGE_CODE`` and ``settings.TIME_ZONE``): an alert keeps how to say itself, and is
said once per language and zone, as one mail to the admins who read it so.

The ``send_alerts`` task runs this after each reservation and each balance refresh, and beat runs
it every minute (which is what resends a failed one).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext, gettext_noop

from generations import health
from generations.credits import WARN_PERCENT, Standing, reaches, standing_of
from generations.models import AlertSent, MemberBudget, TeamBudget, this_month, time_zone_names

logger = logging.getLogger(__name__)

THRESHOLDS = (WARN_PERCENT, 100)


@dataclass(frozen=True)
class Alert:
    kind: str
    subject: str  # the member's id for a member's alert, else empty
    period: date
    threshold: int  # per cent of a budget, or the balance's credits
    # Its title and body in the active language and time zone.
    say: Callable[[], tuple[str, str]] = field(compare=False)

    @property
    def key(self) -> tuple[str, str, date, int]:
        return (self.kind, self.subject, self.period, self.threshold)

    def row(self) -> QuerySet[AlertSent]:
        return AlertSent.objects.filter(
            kind=self.kind, subject=self.subject, period=self.period, threshold=self.threshold
        )


def send_due() -> int:
    """Send each due alert that is not sent yet, nor being sent; returns how many went out."""
    alerts = due_alerts()
    if not alerts:
        return 0
    readers = admin_readers()
    if not readers:
        logger.warning("%d alert(s) are due, but no admin has an email address", len(alerts))
        return 0
    done = _sent_or_being_sent(alerts)
    waiting = [a for a in alerts if a.key not in done]
    return sum(_send(alert, readers) for alert in waiting if _claim(alert))


Readers = dict[tuple[str, str], list[str]]


def admin_readers() -> Readers:
    """The admins' addresses by the (language, time zone) each reads in: their own choice, else
    the site's. One query (the preferences are LEFT JOINed)."""
    admins = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    rows = admins.order_by("pk").values_list(
        "email", "preference__language", "preference__time_zone"
    )
    readers: Readers = {}
    for email, language, zone in rows:
        zone = zone if zone in time_zone_names() else settings.TIME_ZONE
        readers.setdefault((language or settings.LANGUAGE_CODE, zone), []).append(email)
    return readers


def _sent_or_being_sent(alerts: list[Alert]) -> set[tuple[str, str, date, int]]:
    """One query: the keys already sent, or claimed too recently to be taken over."""
    recent = timezone.now() - timedelta(seconds=settings.ALERT_RESEND_AFTER_SECONDS)
    rows = AlertSent.objects.filter(period__in={a.period for a in alerts}).filter(
        Q(sent_at__isnull=False) | Q(claimed_at__gte=recent)
    )
    return set(rows.values_list("kind", "subject", "period", "threshold"))


def _claim(alert: Alert) -> bool:
    """True if this worker is to send ``alert``: its INSERT made the row, or it took over a row
    claimed more than ``ALERT_RESEND_AFTER_SECONDS`` ago and never sent."""
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the clash must not spoil a caller's transaction
            AlertSent.objects.create(
                kind=alert.kind,
                subject=alert.subject,
                period=alert.period,
                threshold=alert.threshold,
                claimed_at=now,
            )
    except IntegrityError:
        stale = now - timedelta(seconds=settings.ALERT_RESEND_AFTER_SECONDS)
        unsent = alert.row().filter(sent_at__isnull=True, claimed_at__lt=stale)
        return bool(unsent.update(claimed_at=now))
    return True


def _send(alert: Alert, readers: Readers) -> bool:
    """One mail per language and zone; all of them again later if any was refused."""
    try:
        for (language, zone), addresses in readers.items():
            with translation.override(language), timezone.override(zone):
                title, body = alert.say()
            send_mail(settings.EMAIL_SUBJECT_PREFIX + title, body, None, addresses)
    except (smtplib.SMTPException, OSError):
        # Left claimed and unsent: a run after ALERT_RESEND_AFTER_SECONDS sends it again.
        logger.exception("Could not send the alert %s; it will be sent again", alert.key)
        return False
    alert.row().update(sent_at=timezone.now())
    return True


# -- What is due -------------------------------------------------------------------------------


def due_alerts() -> list[Alert]:
    """Every alert whose condition holds now, sent or not."""
    return [*_member_alerts(), *_team_alerts(), *_balance_alerts()]


def _budget_alerts(
    kind: str, subject: str, standing: Standing, words: Words, **names: str
) -> list[Alert]:
    """An alert for each threshold the budget has reached."""
    limit = standing.limit
    return [
        Alert(
            kind, subject, standing.period, percent, partial(words.say, standing, percent, **names)
        )
        for percent in THRESHOLDS
        if limit and reaches(standing.used, limit, percent)
    ]


def _member_alerts() -> list[Alert]:
    """Two queries at most: the budgets of this month past the first threshold, with members."""
    rows = (
        MemberBudget.objects.filter(period=this_month(), monthly_limit__gt=0)
        .alias(share=F("used") * 100)
        .filter(share__gte=F("monthly_limit") * THRESHOLDS[0])
        .select_related("user")
    )
    return [
        alert
        for row in rows
        for alert in _budget_alerts(
            AlertSent.Kind.MEMBER,
            str(row.user_id),
            standing_of(row),
            MEMBER_WORDS,
            member=row.user.get_username(),
        )
    ]


def _team_alerts() -> list[Alert]:
    row = TeamBudget.objects.filter(pk=TeamBudget.ID, period=this_month()).first()
    return _budget_alerts(AlertSent.Kind.TEAM, "", standing_of(row), TEAM_WORDS)


def _balance_alerts() -> list[Alert]:
    """The balance alert while the kept balance is under ``LOW_BALANCE_CREDITS``. A balance at or
    above it re-arms the alert: the rows claimed before that reading are deleted (not a claim
    made after a newer, lower reading)."""
    threshold = settings.LOW_BALANCE_CREDITS
    found = health.balance(fresh=True)
    if not threshold or found is None:
        return []
    if found.value >= threshold:
        AlertSent.objects.filter(kind=AlertSent.Kind.BALANCE, claimed_at__lt=found.at).delete()
        return []
    say = partial(_balance_words, found, threshold)
    return [Alert(AlertSent.Kind.BALANCE, "", this_month(), threshold, say)]


# -- What the mails say ------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """What a budget's alert says: its title, what was used, and what follows at each threshold
    (marked for translation here, translated when said, in each reader's language)."""

    title: str
    used: str
    near: str  # at WARN_PERCENT
    full: str  # at 100 %

    def say(self, standing: Standing, percent: int, **names: str) -> tuple[str, str]:
        numbers = {
            "percent": percent,
            "used": standing.used,
            "limit": standing.limit,
            "month": formats.date_format(standing.period, "F Y"),
            **names,
        }
        then = gettext(self.full if percent >= 100 else self.near)
        return gettext(self.title) % numbers, f"{gettext(self.used) % numbers}\n\n{then}\n"


MEMBER_WORDS = Words(
    title=gettext_noop("%(member)s has used %(percent)s %% of their monthly budget"),
    used=gettext_noop("%(member)s has used %(used)s of their %(limit)s credits in %(month)s."),
    near=gettext_noop("An admin can raise their budget in the admin, under Member budgets."),
    full=gettext_noop(
        "They cannot generate again this month unless an admin raises their budget "
        "(in the admin, under Member budgets)."
    ),
)
TEAM_WORDS = Words(
    title=gettext_noop("The team has used %(percent)s %% of its monthly cap"),
    used=gettext_noop("The team has used %(used)s of its %(limit)s credits in %(month)s."),
    near=gettext_noop("An admin can raise the team's cap in the admin, under Team budgets."),
    full=gettext_noop(
        "No member can generate again this month unless an admin raises the team's cap "
        "(in the admin, under Team budgets)."
    ),
)


def _balance_words(found: health.Kept, threshold: int) -> tuple[str, str]:
    numbers = {
        "credits": found.value,
        "threshold": threshold,
        "when": formats.date_format(timezone.localtime(found.at), "DATETIME_FORMAT"),
    }
    title = gettext("Rivya's balance is under %(threshold)s credits") % numbers
    body = gettext(
        "The team's Rivya account had %(credits)s credits at %(when)s, under "
        "LOW_BALANCE_CREDITS (%(threshold)s). Add credits at Rivya before generations fail."
    )
    return title, f"{body % numbers}\n"
