"""Signing in: a per-username slowdown on top of django-axes' per-address lockout.

django-axes locks a username out from one address after ``AXES_FAILURE_LIMIT`` failures. Guesses
spread over many addresses never reach that, so failures for one username from anywhere slow the
next attempts for it:

- Past ``SIGNIN_SLOWDOWN_AFTER`` failures within the cool-off (axes' own records, any address),
  an attempt must come at least :func:`slowdown_delay` after the latest one: 1 s, doubling with
  each failure, at most ``SIGNIN_SLOWDOWN_MAX_SECONDS``. An attempt refused for that is not
  tried and not recorded, so it neither counts nor pushes the wait further.
- It slows and never locks a member out: an attempt from an address where that username has
  signed in before (axes' access log) is never slowed, and anywhere else one attempt per delay
  still goes through.
- The same message answers for a username that does not exist (failures are counted by the
  name typed), so it reveals nothing.

Both sign-in pages use it: the studio's (``SignInForm``) and the admin's (``AdminSignInForm``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

from imagen_site.security import client_address

# How long an address where a member signed in stays "known" to the slowdown.
KNOWN_ADDRESS_FOR = timedelta(days=90)


def slowdown_delay(failures: int) -> timedelta:
    """How long after the latest failure the next attempt must wait, given the failures so far."""
    over = failures - settings.SIGNIN_SLOWDOWN_AFTER
    if over < 0:
        return timedelta(0)
    return timedelta(seconds=min(2 ** min(over, 30), settings.SIGNIN_SLOWDOWN_MAX_SECONDS))


def wait_before_trying(username: str, address: str | None, now: datetime) -> timedelta:
    """How long this attempt must still wait (zero: go ahead).

    1. The username's failures within the cool-off, from any address, and the latest one's time.
    2. Their delay, counted from the latest failure; nothing left to wait: go ahead.
    3. Still waiting, but the member has signed in from this address before: go ahead.
    """
    window = get_cool_off() or timedelta(hours=1)
    found = AccessAttempt.objects.filter(username=username, attempt_time__gte=now - window)
    seen = found.aggregate(failures=Sum("failures_since_start"), latest=Max("attempt_time"))
    if not seen["failures"]:
        return timedelta(0)
    wait: timedelta = seen["latest"] + slowdown_delay(seen["failures"]) - now
    if wait <= timedelta(0):
        return timedelta(0)
    known = AccessLog.objects.filter(
        username=username, ip_address=address, attempt_time__gte=now - KNOWN_ADDRESS_FOR
    )
    return timedelta(0) if address and known.exists() else wait


def refuse_if_slowed(request: HttpRequest | None, username: str | None) -> None:
    if request is None or not username:
        return
    wait = wait_before_trying(username, client_address(request), timezone.now())
    if wait > timedelta(0):
        seconds = math.ceil(wait.total_seconds())
        message = ngettext(
            "Sign-in for this username is slowed down after many wrong passwords. "
            "Try again in %(seconds)d second.",
            "Sign-in for this username is slowed down after many wrong passwords. "
            "Try again in %(seconds)d seconds.",
            seconds,
        )
        raise ValidationError(message, code="slowed", params={"seconds": seconds})


class SignInForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        refuse_if_slowed(self.request, self.cleaned_data.get("username"))
        return super().clean()


class AdminSignInForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        refuse_if_slowed(self.request, self.cleaned_data.get("username"))
        return super().clean()
