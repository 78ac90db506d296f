from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import dateformat, timezone
from django.utils.translation import ngettext

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


@register.filter
def duration(seconds: int) -> str:
    """Seconds as a card says them: "4 s", "2 min 5 s", "3 h 10 min". static/js/app.js says
    a ticking card's time the same way (``duration`` there)."""
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
    return dateformat.format(local, "H:i" if same_day else "M j, H:i")


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
