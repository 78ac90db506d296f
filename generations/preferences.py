"""Each member's language and time zone.

Invariants:
- The language of a page is the signed-in member's saved choice, else the language cookie, else
  the browser's ``Accept-Language`` (the last two are Django's ``LocaleMiddleware``), else
  ``settings.LANGUAGE_CODE``.
- Times are shown in the member's saved time zone, else the one their browser told us (the
  ``time_zone`` cookie static/js/app.js sets), else ``settings.TIME_ZONE``. A name that is not an
  IANA time zone this machine knows is ignored, never an error.
- The member is loaded with their preferences in one query (``MemberBackend``): knowing them
  costs a page nothing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from generations.models import MemberPreference, time_zone_names

TIME_ZONE_COOKIE = "time_zone"


class MemberBackend(ModelBackend):
    """Django's ModelBackend, except that the signed-in member comes with their preferences (a
    LEFT JOIN in the query that loads the member anyway)."""

    def get_user(self, user_id: int) -> AbstractBaseUser | None:  # type: ignore[override]
        users = get_user_model()._default_manager.select_related("preference")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def saved_preference(request: HttpRequest) -> MemberPreference | None:
    """The signed-in member's preferences, or None (signed out, or never chose)."""
    if not request.user.is_authenticated:
        return None
    try:
        return request.user.preference
    except MemberPreference.DoesNotExist:
        return None


def time_zone_for(request: HttpRequest, saved: MemberPreference | None) -> zoneinfo.ZoneInfo | None:
    """The zone to show this request's times in; None for ``settings.TIME_ZONE``."""
    for name in (saved.time_zone if saved else "", request.COOKIES.get(TIME_ZONE_COOKIE, "")):
        if name in time_zone_names():
            return zoneinfo.ZoneInfo(name)
    return None


class MemberPreferenceMiddleware:
    """Activates the member's saved language (over what LocaleMiddleware read from the browser)
    and the time zone of :func:`time_zone_for`, for the length of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        saved = saved_preference(request)
        if saved and saved.language:
            translation.activate(saved.language)
            request.LANGUAGE_CODE = translation.get_language()
        zone = time_zone_for(request, saved)
        if zone:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def save_language(user: User, language: str) -> None:
    """Keep ``language`` with the member's account, for every browser they sign in on."""
    MemberPreference.objects.update_or_create(user=user, defaults={"language": language})
