"""Finding images in the team history: the filter bar's form, and the rows and links it makes.

Invariants:
- A filter only narrows what the member may already see (the rows it is given); it never
  widens it. Every parameter is checked before any is applied: one bad value answers 400 with
  its message beside its field, and no row at all.
- Every filter, search included, is answered through an index, with the same number of queries
  on any page (keyset pagination on the row id, as the unfiltered history).
- Search: every word must appear, case-insensitively, as a substring of the prompt or the
  negative prompt (Thai is written without spaces, so a word is a substring, not a token).
  Words of three characters or more are found through the trigram index
  (``generations/search_index.py``); a shorter word cannot be, so it only narrows the rows the
  longer words found, and a search made of short words alone is refused with a message. (An
  index that answers two-character substrings would be a bigram index, far larger than the
  table; reading every row instead would make one such search cost the whole table.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations import batches, catalog, favorites, search_index
from generations.forms import western_digits
from generations.models import UNFINISHED, Favorite, Generation, Status

SEARCH_MAX_CHARS = 200
SEARCH_MAX_WORDS = 8
FIRST_YEAR, LAST_YEAR = 2000, 2100
# The Thai calendar counts from 543 BC: a year in this range was very likely typed in it.
BUDDHIST_ERA_OFFSET = 543
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
PENDING = "pending"
# The order of the parameters in every link the history makes.
PARAMETERS = ("who", "q", "member", "model", "ratio", "status", "from", "to", "favorites")
OTHER_FILTERS = ("member", "model", "ratio", "status", "from", "to", "favorites")
# Fewer rows than this selected by the other filters, and a search reads each of them for its
# words (a few milliseconds) rather than reading the search index.
FEW_ROWS = 2000


NULL_CHARACTER = _("This has a null character in it, which no prompt or name can hold. Remove it.")


def refuse_null_character(value: Any) -> None:
    """PostgreSQL refuses a NUL in any text it is sent: say so before asking it anything."""
    if "\x00" in str(value):
        raise forms.ValidationError(NULL_CHARACTER, code="null_characters_not_allowed")


class SearchInput(forms.TextInput):
    input_type = "search"


class MemberField(forms.ChoiceField):
    """A member, by username (cleaned to the ``User``). The members are read once per form,
    in one query, whether the select is drawn, a name is checked, or both; never when
    neither is."""

    read: dict[str, User] | None = None

    def offer(self) -> None:
        """Offer every member, by username, beside "Anyone" (read when first needed)."""
        self.read = None
        self.choices = lambda: [("", _("Anyone")), *((name, name) for name in self.members())]

    def members(self) -> dict[str, User]:
        if self.read is None:
            team = User.objects.order_by("username").only("pk", "username")
            self.read = {user.get_username(): user for user in team}
        return self.read

    def to_python(self, value: Any) -> str:
        refuse_null_character(value)
        return str(super().to_python(value))

    def valid_value(self, value: Any) -> bool:
        return str(value) in self.members()

    def clean(self, value: Any) -> User | None:
        name = super().clean(value)
        return self.members()[name] if name else None


class DayField(forms.DateField):
    """A day written YYYY-MM-DD, in Western or Thai digits, in a year the studio could have
    made an image in."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    default_error_messages = {
        "invalid": _("Enter a date as YYYY-MM-DD, for example 2025-03-31."),
    }

    def bound_data(self, data: Any, initial: Any) -> Any:
        """Shown back as YYYY-MM-DD when it is a day (a date input shows nothing else)."""
        try:
            return self.to_python(data) or data
        except forms.ValidationError:
            return data

    def to_python(self, value: Any) -> date | None:
        text = western_digits(str(value or "").strip())
        if not text:
            return None
        found = ISO_DATE.fullmatch(text)
        if not found:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month, day = (int(part) for part in found.groups())
        if FIRST_YEAR + BUDDHIST_ERA_OFFSET <= year <= LAST_YEAR + BUDDHIST_ERA_OFFSET:
            raise forms.ValidationError(
                _("Write the year in the Western calendar: %(year)s is %(western)s."),
                code="buddhist_era",
                params={"year": year, "western": year - BUDDHIST_ERA_OFFSET},
            )
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s."),
                code="year",
                params={"first": FIRST_YEAR, "last": LAST_YEAR},
            )
        try:
            return date(year, month, day)
        except ValueError:
            raise forms.ValidationError(
                _("%(text)s is not a day of the calendar."),
                code="no_such_day",
                params={"text": text},
            ) from None


class ModelField(forms.ChoiceField):
    """A model id: one the studio knows, or one still in the history (a retired model)."""

    known: list[tuple[str, str]]  # (id, name) of the models offered, set by offer()

    def to_python(self, value: Any) -> str:
        refuse_null_character(value)
        return str(super().to_python(value))

    def valid_value(self, value: Any) -> bool:
        if super().valid_value(value):
            return True
        field = Generation._meta.get_field("model")
        fits = len(str(value)) <= (getattr(field, "max_length", None) or 0)
        return fits and Generation.objects.filter(model=value).exists()

    def offer(self, model_ids: list[tuple[str, str]]) -> None:
        """Offer these (id, name) pairs beside "Any model", and nothing else."""
        self.known = model_ids
        self.choices = [("", _("Any model")), *model_ids]


def model_choices() -> list[tuple[str, str]]:
    """The Imagen 4 models the studio knows: documented, or last listed by Rivya (from the
    cache only; a page never waits on Rivya for this)."""
    known = {m.id: m.display_name for m in catalog.DOCUMENTED_MODELS}
    for model in catalog.imagen_models():
        known.setdefault(model.id, model.display_name)
    return list(known.items())


class HistoryFilter(forms.Form):
    """The history's query parameters. Every one is optional; together they narrow."""

    q = forms.CharField(
        label=_("Search prompts"),
        required=False,
        max_length=SEARCH_MAX_CHARS,
        widget=SearchInput(attrs={"placeholder": _("Words from the prompt, in any language")}),
        error_messages={
            "max_length": _(
                "Search for at most %(limit_value)d characters (you typed %(show_value)d)."
            ),
            "null_characters_not_allowed": NULL_CHARACTER,
        },
    )
    member = MemberField(
        label=_("Member"),
        required=False,
        error_messages={"invalid_choice": _("No member of the team is called “%(value)s”.")},
    )
    model = ModelField(
        label=_("Model"),
        required=False,
        error_messages={"invalid_choice": _("No image was made with a model called “%(value)s”.")},
    )
    ratio = forms.ChoiceField(
        label=_("Shape"),
        required=False,
        choices=[("", _("Any shape")), *((ratio, ratio) for ratio in catalog.ASPECT_RATIOS)],
        error_messages={"invalid_choice": _("Pick one of the shapes in the list.")},
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any status")),
            (Status.SUCCEEDED.value, _("Done")),
            (Status.FAILED.value, _("Failed")),
            (PENDING, _("In progress")),
        ],
        error_messages={"invalid_choice": _("Pick done, failed or in progress.")},
    )
    from_ = DayField(label=_("From"), required=False)
    to = DayField(label=_("To"), required=False)
    favorites = forms.ChoiceField(
        label=_("Starred by me"),
        required=False,
        choices=[("1", _("Starred by me"))],
        error_messages={"invalid_choice": _("Tick the box, or leave it empty, to see everyone's.")},
    )
    who = forms.ChoiceField(
        required=False,
        choices=[("everyone", _("Everyone")), ("mine", _("Mine"))],
        error_messages={"invalid_choice": _("Show everyone's images or only yours.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        model, member = self.fields["model"], self.fields["member"]
        assert isinstance(model, ModelField)
        assert isinstance(member, MemberField)
        model.offer(model_choices())
        member.offer()

    def choice_fields(self) -> list[forms.BoundField]:
        """The fields the bar shows as selects and date inputs, in order."""
        return [self[name] for name in ("member", "model", "ratio", "status", "from", "to")]

    def clean_q(self) -> str:
        words = " ".join(str(self.cleaned_data["q"]).split())
        if len(words.split()) > SEARCH_MAX_WORDS:
            raise forms.ValidationError(
                _("Search for at most %(limit)d words."), params={"limit": SEARCH_MAX_WORDS}
            )
        if words and all(len(w) < search_index.TRIGRAM for w in words.split()):
            raise forms.ValidationError(
                _("Add a word of at least three letters: shorter words only narrow a search.")
            )
        return words

    def clean_model(self) -> str:
        model = str(self.cleaned_data["model"])
        field = self.fields["model"]
        assert isinstance(field, ModelField)
        if model and not any(model == known for known, _ in field.known):
            field.offer([*field.known, (model, model)])  # a retired one: offer it too
        return model

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("to", _("The end date must be on or after the start date."))
        return data


# ``from`` is a Python keyword, so the field is declared as ``from_`` and renamed here, in place.
HistoryFilter.base_fields = {
    ("from" if name == "from_" else name): field
    for name, field in HistoryFilter.base_fields.items()
}


def search_words(q: str) -> tuple[list[str], list[str]]:
    """(words the trigram index can find, shorter words), each once."""
    words = list(dict.fromkeys(q.split()))
    long = [w for w in words if len(w) >= search_index.TRIGRAM]
    return long, [w for w in words if len(w) < search_index.TRIGRAM]


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class History:
    """The history as filtered for one member: the rows, a page of them, and its links.

    A new image the member makes is put at the top of the page they are on, whatever the
    filter (the create view knows none): they see what they just asked for, and the next
    filter, page or reload shows only what matches."""

    form: HistoryFilter
    user: User
    rows_in_view: QuerySet[Generation]

    @property
    def valid(self) -> bool:
        return self.form.is_valid()

    @property
    def who(self) -> str:
        mine = self.valid and self.form.cleaned_data["who"] == "mine"
        return "mine" if mine or self.form.data.get("who") == "mine" else "everyone"

    @property
    def searching(self) -> bool:
        """Whether a word is looked for through the search index (three characters or more)."""
        return self.valid and bool(search_words(self.form.cleaned_data["q"])[0])

    def others(self, before: int | None) -> QuerySet[Generation] | None:
        """The rows every filter but the search selects (older than ``before``), or None when
        the search is the only filter (or a parameter is wrong)."""
        if not self.valid:
            return None
        data = {**self.form.cleaned_data, "q": ""}
        if not any(data.get(name) for name in OTHER_FILTERS) and data["who"] != "mine":
            return None
        rows = narrowed(self.rows_in_view, data, self.user)
        return rows if before is None else rows.filter(pk__lt=before)

    def candidates(self, before: int | None) -> list[int] | None:
        """On SQLite, with a search and another filter: the ids of the rows the other filters
        select (older than ``before``, newest first; one query, through their indexes), when
        there are fewer than ``FEW_ROWS``: each is then read for the words. None otherwise:
        the search index is read instead (PostgreSQL's planner weighs the two itself)."""
        others = self.others(before) if self.searching else None
        if others is None or connection.vendor != "sqlite":
            return None
        ids = list(others.order_by("-pk").values_list("pk", flat=True)[:FEW_ROWS])
        return ids if len(ids) < FEW_ROWS else None

    def search_plan(self, before: int | None) -> search_index.Plan:
        """How the page below ``before`` meets the search (see :meth:`candidates`)."""
        found = self.candidates(before) is not None
        return search_index.Plan.FILTER_ORDER if found else search_index.Plan.INDEX_ORDER

    def rows(self) -> QuerySet[Generation]:
        """Every row the filter selects, each with ``starred`` (by this member); none at all
        when a parameter is wrong. On SQLite with a search, the rows come joined to the search
        index (``search_entry``)."""
        if not self.valid:
            return self.rows_in_view.none()
        rows = narrowed(self.rows_in_view, self.form.cleaned_data, self.user)
        return favorites.with_stars(rows, self.user)

    def page(self, before: int | None, size: int) -> list[Generation]:
        """Up to ``size`` rows older than the row ``before`` (keyset), newest first: the same
        queries on every page (one; two on SQLite with a search and another filter)."""
        return list(self.page_rows(before, size))

    def page_rows(self, before: int | None, size: int) -> QuerySet[Generation]:
        """The query of :meth:`page`, not yet run (for ``explain()``; on SQLite with a search
        and another filter, :meth:`candidates` runs its query here)."""
        ids = self.candidates(before)
        if ids is not None:
            rows = self.rows_in_view.filter(
                search_index.rows_holding(self.form.cleaned_data["q"].split())
            )
            rows = favorites.with_stars(rows.filter(pk__in=ids), self.user)
            return rows.order_by("-pk")[:size]
        rows, key = self.rows(), "pk"
        if self.searching and connection.vendor == "sqlite":
            key = "search_entry__generation_id"  # the index, read newest first
            rows = rows.filter(self.span_of_others(before))
        if before is not None:
            rows = rows.filter(**{f"{key}__lt": before})
        return rows.order_by(f"-{key}")[:size]

    def span_of_others(self, before: int | None) -> Q:
        """The search index read only from the newest to the oldest row the other filters
        select (each end found through their indexes, in the same query): a month's rows, say,
        then cost the matches in that month, not every match above it."""
        others = self.others(before)
        if others is None:
            return Q()
        key = "search_entry__generation_id"
        return Q(
            **{
                f"{key}__lte": Subquery(others.order_by("-pk").values("pk")[:1]),
                f"{key}__gte": Subquery(others.order_by("pk").values("pk")[:1]),
            }
        )

    def query(self, **changes: str) -> str:
        """The query string of this view of the history (no ``before``), with ``changes``:
        what the pager, the switch and a shared link carry. Only valid values are kept."""
        values = dict(self.form.cleaned_data) if self.valid else {}
        values["who"] = self.who
        values.update(changes)
        pairs = [(name, link_value(values.get(name))) for name in PARAMETERS]
        return urlencode([(name, value) for name, value in pairs if value])

    def context(self) -> dict[str, object]:
        """What the filter bar, the pager and the switch need (see _filter_bar.html)."""
        filtering = self.valid and any(
            self.form.cleaned_data.get(name) for name in PARAMETERS if name != "who"
        )
        return {
            "history_filter": self.form,
            "history_filter_invalid": not self.valid,
            "history_query": self.query(),
            "history_filtering": filtering,
            "history_clear_query": urlencode({"who": self.who}),
            "history_switch_queries": {w: self.query(who=w) for w in ("everyone", "mine")},
        }


def link_value(value: object) -> str:
    if isinstance(value, User):
        return value.get_username()
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")


def narrowed(rows: QuerySet[Generation], data: dict[str, Any], user: User) -> QuerySet[Generation]:
    """``rows`` narrowed by the cleaned filter ``data`` (no query is made here)."""
    long, short = search_words(data["q"])
    rows = rows.filter(search_index.words_match(long, connection.vendor))
    rows = rows.filter(search_index.rows_holding(short))
    exact = {
        "user_id": data["member"].pk if data["member"] else None,
        "model": data["model"],
        "aspect_ratio": data["ratio"],
    }
    rows = rows.filter(**{field: value for field, value in exact.items() if value})
    if data["status"]:
        # A request of several images is listed under each state one of its images is in.
        pending = data["status"] == PENDING
        statuses = UNFINISHED if pending else (data["status"],)
        rows = rows.filter(batches.having_status(statuses, few=pending))
    if data["from"] or data["to"]:
        # A member's stars are few: their list leads, the dates are checked on each (SQLite
        # would otherwise read a period's every id and look each up in the other filters).
        by_list = not data["favorites"]
        rows = rows.filter(made_between(data["from"], data["to"], as_id_list=by_list))
    if data["favorites"]:
        rows = rows.filter(pk__in=Favorite.objects.filter(user=user).values("generation_id"))
    if data["who"] == "mine":
        rows = rows.filter(user_id=user.pk)
    return rows


def made_between(first: date | None, last: date | None, *, as_id_list: bool = True) -> Q:
    """Rows made from the first day to the last, both whole, in the studio's time zone.

    On SQLite, as the list of their ids read from the ``created_at`` index: SQLite then reads
    the page from that list in id order, where the plain range would make it sort every row of
    the period. PostgreSQL's planner weighs the plain range itself (and does worse with the
    list: it walks the whole table to merge them). Not as a list (``as_id_list=False``) when a
    shorter list leads, as a member's stars do: the dates are then checked on each of its rows."""
    period = Q()
    if first:
        period &= Q(created_at__gte=day_start(first))
    if last:
        period &= Q(created_at__lt=day_start(last + timedelta(days=1)))
    if connection.vendor == "sqlite" and as_id_list:
        return Q(pk__in=Generation.objects.filter(period).values("pk"))
    return period


def find(params: QueryDict, user: User, rows: QuerySet[Generation]) -> History:
    """The history for ``user`` filtered by the query ``params``, within ``rows`` (what the
    member may see: ``views.visible_generations()``)."""
    return History(form=HistoryFilter(params), user=user, rows_in_view=rows)
