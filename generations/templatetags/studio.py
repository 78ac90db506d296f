from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext, gettext_noop, ngettext

from generations import catalog, errors, health
from generations.models import Generation

register = template.Library()


@register.filter
def model_name(model_id: str) -> str:
    return catalog.display_name(model_id)


@register.filter
def member_error(generation: Generation) -> str:
    """A failed generation's words for the member, in their language
    (``{{ generation|member_error }}``; the stored ``error_message`` stays English)."""
    return errors.member_words(generation.error_code, generation.error_message)


@register.filter
def stored_words(text: str) -> str:
    """A stored status note in the reader's language (``{{ generation.status_note|stored_words }}``;
    the stored note stays English)."""
    return errors.member_words("", text)


@register.filter
def failure_words(failure: health.Failure) -> str:
    """The last failed call's stored words for the admin, in the reader's language
    (``{{ rivya.last_failure|failure_words }}``; the stored words stay English)."""
    return errors.stored_admin_words(failure.code, failure.message)


@register.filter
def elapsed(start: datetime | None, end: datetime | None = None) -> str:
    """A short duration for a card: "4 s", "2 min 5 s", "3 h 10 min"."""
    if start is None:
        return ""
    return duration(seconds_since(start, end))


@register.filter
def seconds_since(start: datetime | None, end: datetime | None = None) -> int:
    """Whole seconds from ``start`` to ``end`` (now if not given), never below 0."""
    if start is None:
        return 0
    return max(0, int(((end or timezone.now()) - start).total_seconds()))


@register.filter
def seconds_until(moment: datetime | None) -> int:
    """Whole seconds until ``moment``; 0 when it is less than a second away, or past."""
    if moment is None:
        return 0
    return max(0, int((moment - timezone.now()).total_seconds()))


# How a card says a length of time, in the reader's language; static/js/app.js gets the same
# words from script_words() and says a ticking card's time with them.
DURATION_WORDS = {
    "seconds": gettext_noop("%(seconds)s s"),
    "minutes": gettext_noop("%(minutes)s min"),
    "minutes-seconds": gettext_noop("%(minutes)s min %(seconds)s s"),
    "hours-minutes": gettext_noop("%(hours)s h %(minutes)s min"),
}


@register.filter
def duration(seconds: int) -> str:
    """Seconds as a card says them: "4 s", "2 min 5 s", "3 h 10 min" (in Thai "4 วินาที"...).
    static/js/app.js says a ticking card's time the same way (``duration`` there)."""
    if seconds < 60:
        return gettext(DURATION_WORDS["seconds"]) % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        words = DURATION_WORDS["minutes-seconds" if seconds else "minutes"]
        return gettext(words) % {"minutes": minutes, "seconds": seconds}
    hours, minutes = divmod(minutes, 60)
    return gettext(DURATION_WORDS["hours-minutes"]) % {"hours": hours, "minutes": minutes}


# The words static/js/app.js says, besides those a template gives the element they belong to:
# patterns with %(name)s, which app.js fills in (its ``say``).
SCRIPT_WORDS = {
    **DURATION_WORDS,
    "gone": gettext_noop(
        "That image is gone or is not yours to change. Reload the page to see the latest."
    ),
    "refused": gettext_noop(
        "The studio could not do that (error %(status)s). Reload the page and try again."
    ),
    "unreachable": gettext_noop(
        "The studio could not be reached. Check your connection and try again."
    ),
}


@register.simple_tag
def script_words() -> str:
    """``data-words-<name>="…"`` for each of :data:`SCRIPT_WORDS`, in the page's language: the
    CSP allows no inline script, so the page hands app.js its words as attributes (base.html)."""
    words = ((name, gettext(english)) for name, english in SCRIPT_WORDS.items())
    return format_html_join(" ", 'data-words-{}="{}"', words)


@register.filter
def durationminutes(value: timedelta) -> str:
    """A cool-off period in words: "15 minutes", "1 minute"."""
    minutes = max(1, round(value.total_seconds() / 60))
    return ngettext("%(minutes)d minute", "%(minutes)d minutes", minutes) % {"minutes": minutes}


@register.filter
def banner_state(outage: health.Health | None) -> str:
    """The Rivya banner in short: "" while it is hidden, else the time it says Rivya stopped
    working, as it says it. A page sends it back with each refresh (views.cards), which answers
    the banner again only when this changed: the same state means the same words."""
    return f"down since {clock(outage.since)}" if outage else ""


@register.filter
def clock(moment: datetime | None) -> str:
    """A time a page says something was learned: "10:42" today, "Mar 3, 10:42" before."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    same_day = local.date() == timezone.localdate()
    return formats.date_format(local, "H:i" if same_day else "MONTH_DAY_TIME_FORMAT")


@register.filter
def utc_offset(moment: datetime | None) -> str:
    """The zone a shown time is in, as its distance from UTC: "UTC+07:00", "UTC-05:00", "UTC"
    (tz abbreviations are "+07" for much of the world, and ambiguous elsewhere)."""
    if moment is None:
        return ""
    offset = timezone.localtime(moment).utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    minutes = abs(int(offset.total_seconds())) // 60
    sign = "+" if offset > timedelta(0) else "-"
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@register.filter
def waiting_for_rivya(generation: Generation) -> health.Waiting | None:
    return health.waiting(generation)
