import functools
import uuid
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations.search_index import MatchColumn

if TYPE_CHECKING:
    from generations.batches import Batch


class Status(models.TextChoices):
    """Where a generation is. The API's own words are used where they mean the same thing."""

    QUEUED = "queued", _("Queued")  # saved here, waiting for a worker to send it
    SENDING = "sending", _("Sending")  # a worker is making the create request
    PROCESSING = "processing", _("Processing")  # Rivya accepted it (remote queued or processing)
    DOWNLOADING = "downloading", _("Saving image")  # Rivya finished; we are storing the image
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")


UNFINISHED = (Status.QUEUED, Status.SENDING, Status.PROCESSING, Status.DOWNLOADING)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class GenerationQuerySet(models.QuerySet["Generation"]):
    def update(self, **kwargs: Any) -> int:
        """Every UPDATE moves ``updated_at`` (Django's ``auto_now`` does so only in ``save()``),
        so a row's :attr:`Generation.version` changes whenever anything in it does: the card
        refresh (views.cards) relies on it. Lifecycle steps are conditional UPDATEs; a caller
        that sets ``updated_at`` itself keeps its value."""
        kwargs.setdefault("updated_at", timezone.now())
        return super().update(**kwargs)


MAX_BATCH = 4  # images one press of Generate may ask for (``count``, 1 to 4)


class Generation(models.Model):
    """One image: one Rivya task, with its own key, its own reservation and settlement, and its
    own claimed state machine (generations/lifecycle.py). A row saved before anything is sent,
    and the truth about it after.

    A request for ``count`` images (1 to :data:`MAX_BATCH`) is ``count`` rows saved together: the
    first is the request's *lead* (``batch_lead`` empty, ``batch_position`` 0), and each other
    points at it (``batch_lead``, ``batch_position`` 1 to count - 1). A request of one image is
    a lead alone, as every row made before batches was. The lead stands for the request
    wherever the studio shows requests rather than images: the history lists leads only, and a
    card, a star, a board item, a delete and a download's ``?n=`` are the lead's and cover the
    whole request (generations/batches.py, docs/architecture.md). Nothing in the lifecycle, the
    ledger, the reconciler or the webhooks knows of batches: each row lives alone.
    """

    uuid = models.UUIDField(_("uuid"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="generations",
        verbose_name=_("user"),
    )
    # Unique per member and position: a double-clicked or re-sent form makes one request. The
    # images of one request share their form's token.
    form_token = models.UUIDField(_("form token"))
    batch_lead = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="batch_followers",
        verbose_name=_("batch lead"),
        help_text=_("The first image of the request this one belongs to; empty on the first."),
    )
    batch_position = models.PositiveSmallIntegerField(
        _("batch position"),
        default=0,
        help_text=_("0 for a request's first image, then 1, 2, 3 in the order asked."),
    )

    model = models.CharField(_("model"), max_length=64, default="google-imagen4")
    prompt = models.TextField(_("prompt"))
    negative_prompt = models.TextField(_("negative prompt"), blank=True)
    # One of the model's ratios (catalog.aspect_ratios); the form offers and checks them.
    aspect_ratio = models.CharField(_("aspect ratio"), max_length=8, default="1:1")
    seed = models.PositiveBigIntegerField(_("seed"), null=True, blank=True)
    # The member left the seed empty and the studio chose this one (and sent it), so the image
    # can be made again; the page says who chose it.
    seed_picked = models.BooleanField(_("seed picked"), default=False)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    remote_task_id = models.CharField(
        _("remote task id"), max_length=128, null=True, blank=True, unique=True
    )
    remote_status = models.CharField(_("remote status"), max_length=32, blank=True)
    status_note = models.CharField(_("status note"), max_length=300, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    admin_message = models.TextField(_("admin message"), blank=True)

    credits_reserved = models.PositiveIntegerField(_("credits reserved"), default=0)
    credits_final = models.PositiveIntegerField(_("credits final"), null=True, blank=True)

    image = models.ImageField(_("image"), upload_to="generations/%Y/%m/", blank=True)
    thumbnail = models.ImageField(_("thumbnail"), upload_to="thumbnails/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)

    submit_attempts = models.PositiveIntegerField(_("submit attempts"), default=0)
    poll_count = models.PositiveIntegerField(_("poll count"), default=0)
    poll_errors = models.PositiveIntegerField(_("poll errors"), default=0)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The schedule, the lease and the claim are three fields, each with one meaning
    # (generations/lifecycle.py says how a step uses them).
    next_check_at = models.DateTimeField(
        _("next check at"),
        null=True,
        blank=True,
        help_text=_(
            "The schedule: when a worker should next look at this generation. A claim leaves it "
            "as it is; the reconciler re-enqueues rows past it whose lease is free. Empty when "
            "there is nothing left to do."
        ),
    )
    lease_until = models.DateTimeField(
        _("lease until"),
        null=True,
        blank=True,
        help_text=_(
            "The lease: a worker that claimed a step holds the row until then, and no other "
            "worker takes it before (a webhook may, for a status check). Empty when no worker "
            "holds it. A worker killed mid-step is replaced once it runs out."
        ),
    )
    lease_token = models.UUIDField(
        _("lease token"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The claim: new at every claim. A step writes its outcome only where the row still "
            "has its token, so a worker whose lease was taken over changes nothing."
        ),
    )
    # Deleting hides a generation; the row stays, because the credit ledger refers to it.
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        verbose_name = _("generation")
        verbose_name_plural = _("generations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "form_token", "batch_position"], name="one_request_per_form"
            ),
            models.UniqueConstraint(
                fields=["batch_lead", "batch_position"],
                condition=Q(batch_lead__isnull=False),
                name="one_image_per_batch_slot",
            ),
            models.CheckConstraint(
                condition=Q(batch_lead__isnull=True, batch_position=0)
                | Q(batch_lead__isnull=False, batch_position__gte=1, batch_position__lt=MAX_BATCH),
                name="lead_first_followers_after",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="generation_user_newest"),
            # The history's filters (generations/gallery.py), newest first in each: "in
            # progress" is a handful of rows among all; a model can be one used long ago.
            models.Index(fields=["status", "-id"], name="generation_status_newest"),
            models.Index(fields=["model", "-id"], name="generation_model_newest"),
            models.Index(
                fields=["next_check_at"],
                name="generation_unfinished_due",
                condition=Q(status__in=UNFINISHED),
            ),
            # Failed rows the reconciler still looks at now and then, for a late result.
            models.Index(
                fields=["next_check_at"],
                name="generation_late_due",
                condition=Q(status="failed", next_check_at__isnull=False),
            ),
            # The usage page counts a period's outcomes and the last day's failures by these.
            models.Index(fields=["created_at"], name="generation_created"),
            models.Index(fields=["finished_at"], name="generation_finished"),
            # Serving a stored file looks up the generation that owns it (imagen_site/urls.py).
            models.Index(fields=["image"], name="generation_image_file"),
            models.Index(fields=["thumbnail"], name="generation_thumbnail_file"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:40]} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (Status.SUCCEEDED, Status.FAILED)

    @property
    def version(self) -> str:
        """What a page saw of this row: ``updated_at`` in whole microseconds since 1970, exact
        on SQLite and PostgreSQL alike. Any change to the row changes it
        (:meth:`GenerationQuerySet.update`, ``auto_now`` on save)."""
        return str((self.updated_at - EPOCH) // timedelta(microseconds=1))

    @cached_property
    def batch(self) -> "Batch":
        """The request this lead stands for, every image of it (generations/batches.py; a page
        of cards reads them all at once with ``batches.attach``)."""
        from generations.batches import Batch, members_of  # batches reads these models

        return Batch(members_of(self))


class GenerationImage(models.Model):
    """Every image of a result, the primary one (position 0) included."""

    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, related_name="images", verbose_name=_("generation")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    image = models.ImageField(_("image"), upload_to="generations/%Y/%m/")
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))

    class Meta:
        verbose_name = _("generation image")
        verbose_name_plural = _("generation images")
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "position"], name="one_image_per_slot"),
        ]
        indexes = [models.Index(fields=["image"], name="generation_image_image_file")]

    def __str__(self) -> str:
        return f"{self.generation_id} #{self.position}"


class LedgerEntry(models.Model):
    """The credit ledger: one reservation and at most one settlement per generation."""

    class Phase(models.TextChoices):
        RESERVATION = "reservation", _("Reservation")
        SETTLEMENT = "settlement", _("Settlement")

    class Kind(models.TextChoices):
        RESERVE = "reserve", _("Reserved")
        CHARGE = "charge", _("Charged")
        RELEASE = "release", _("Released")

    generation = models.ForeignKey(
        Generation, on_delete=models.PROTECT, related_name="ledger", verbose_name=_("generation")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="ledger_entries",
        verbose_name=_("user"),
    )
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    credits = models.PositiveIntegerField(_("credits"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["generation", "phase"], name="one_entry_per_phase"),
            models.CheckConstraint(
                condition=(
                    Q(phase="reservation", kind="reserve")
                    | Q(phase="settlement", kind__in=["charge", "release"])
                ),
                name="kind_matches_phase",
            ),
        ]
        indexes = [models.Index(fields=["created_at", "user"], name="ledger_day_member")]

    def __str__(self) -> str:
        return gettext("%(kind)s: %(credits)s for generation %(generation)s") % {
            "kind": self.get_kind_display(),
            "credits": self.credits,
            "generation": self.generation_id,
        }


def this_month() -> date:
    """The first day of the current month: the budget period now (a new budget starts in it,
    and ``credits.budget_for`` moves an older one to it). The month is the team's
    (``settings.TIME_ZONE``), never the member's own zone a request shows times in: a request
    and a worker must agree on which month a charge counts in."""
    return timezone.localdate(timezone=timezone.get_default_timezone()).replace(day=1)


class MonthlyBudget(models.Model):
    """A monthly credit limit and what was reserved or spent against it in ``period``. A row whose
    period is an older month counts as nothing used (``credits`` moves it on at the next debit)."""

    monthly_limit = models.PositiveIntegerField(
        _("monthly limit"),
        null=True,
        blank=True,
        help_text=_("Credits a month; empty for no limit."),
    )
    period = models.DateField(
        _("period"),
        default=this_month,
        help_text=_("The first day of the month that “used” counts."),
    )
    used = models.PositiveIntegerField(
        _("used"), default=0, help_text=_("Credits reserved or spent this month.")
    )

    class Meta:
        abstract = True

    def counts(self) -> dict[str, str]:
        """What ``__str__`` shows of the budget: used, the limit (∞ for none) and the month."""
        limit = "∞" if self.monthly_limit is None else str(self.monthly_limit)
        return {"used": str(self.used), "limit": limit, "month": f"{self.period:%Y-%m}"}


class MemberBudget(MonthlyBudget):
    """A member's monthly credit limit. No row, or no limit, means the team balance is the limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="budget",
        verbose_name=_("user"),
    )

    class Meta:
        verbose_name = _("member budget")
        verbose_name_plural = _("member budgets")

    def __str__(self) -> str:
        return gettext("%(member)s: %(used)s/%(limit)s in %(month)s") % {
            "member": self.user,
            **self.counts(),
        }


class TeamBudget(MonthlyBudget):
    """The team's monthly cap: one row (id 1), debited in the same transaction as the member's
    budget by every reservation, so that all members together stay within it. No limit set
    means only the members' budgets and Rivya's balance apply."""

    ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ID, editable=False)

    class Meta:
        verbose_name = _("team budget")
        verbose_name_plural = _("team budgets")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="one_team_budget")]

    def __str__(self) -> str:
        return gettext("Team: %(used)s/%(limit)s in %(month)s") % self.counts()


class AlertSent(models.Model):
    """An alert mail to the admins, claimed by the INSERT of this row before it is sent (the
    unique constraint lets one worker claim it, once per kind, subject, period and threshold).
    ``sent_at`` is set after the mail went out; a row still without it after
    ``ALERT_RESEND_AFTER_SECONDS`` is claimed again and resent (generations/alerts.py)."""

    class Kind(models.TextChoices):
        MEMBER = "member", _("Member's budget")
        TEAM = "team", _("Team's cap")
        BALANCE = "balance", _("Rivya balance")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subject = models.CharField(
        _("subject"), max_length=64, blank=True, help_text=_("The member's id, if any.")
    )
    period = models.DateField(_("period"), help_text=_("The month the alert is about."))
    threshold = models.PositiveIntegerField(
        _("threshold"), help_text=_("Per cent of the budget, or credits.")
    )
    claimed_at = models.DateTimeField(_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert sent")
        verbose_name_plural = _("alerts sent")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "period", "threshold"], name="one_alert_per_threshold"
            )
        ]

    def __str__(self) -> str:
        parts = (self.get_kind_display(), self.subject, f"{self.period:%Y-%m}", self.threshold)
        return " ".join(str(part) for part in parts if part != "")


class WebhookEvent(models.Model):
    """Webhook ids already seen, so that a replayed delivery changes nothing."""

    event_id = models.CharField(max_length=200, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        # Beat deletes the old ones by this (generations.webhooks.forget_old_events).
        indexes = [models.Index(fields=["received_at"], name="webhook_event_received")]

    def __str__(self) -> str:
        return self.event_id


# -- Boards (issue 11) -----------------------------------------------------------------------------


class Board(models.Model):
    """A named set of images the whole team shares. Any member adds and removes images; only its
    maker or an admin renames or deletes it. Names are unique ignoring case, so "Logos" and
    "logos" cannot both exist (the database enforces it, as far as its LOWER() goes: ASCII on
    SQLite, every letter on PostgreSQL)."""

    NAME_MAX_LENGTH = 80

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # A board outlives its maker's account: the team's boards are the team's. With no maker
    # left, only an admin may rename or delete it.
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="boards_made",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("board")
        verbose_name_plural = _("boards")
        constraints = [
            models.UniqueConstraint(Lower("name"), name="board_name_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.name


class BoardItem(models.Model):
    """One generation on one board, at most once. A deleted generation's row may stay: the
    board's listings and its zip leave out generations whose ``deleted_at`` is set."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="items")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="board_items")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("board item")
        verbose_name_plural = _("board items")
        constraints = [
            models.UniqueConstraint(fields=["board", "generation"], name="once_per_board"),
        ]
        indexes = [
            # A board's page lists its items newest first, a page at a time (keyset on the id).
            models.Index(fields=["board", "-id"], name="board_item_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.generation_id} on board {self.board_id}"


class RivyaSnapshot(models.Model):
    """What workers last learned from Rivya, for pages to show without asking it (DESIGN rule 10):
    the model list, the balance, and the last call that succeeded and the last that failed.
    One row per key; ``fetched_at`` says how old it is. The cache holds the same, briefly."""

    key = models.CharField(max_length=32, unique=True)
    value = models.JSONField(default=dict)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = _("Rivya snapshot")
        verbose_name_plural = _("Rivya snapshots")

    def __str__(self) -> str:
        return f"{self.key} at {self.fetched_at:%Y-%m-%d %H:%M:%S}"


class BalanceReading(models.Model):
    """Rivya's balance as beat read it, one row per refresh (``health.refresh_balance``), kept
    for ``health.READINGS_KEPT_DAYS`` and then deleted by the same task: the usage page compares
    how far it moved in a period with what the ledger says was spent."""

    at = models.DateTimeField(db_index=True)
    credits = models.BigIntegerField()

    class Meta:
        verbose_name = _("balance reading")
        verbose_name_plural = _("balance readings")

    def __str__(self) -> str:
        return f"{self.credits} credits at {self.at:%Y-%m-%d %H:%M:%S}"


class Favorite(models.Model):
    """A member's star on a generation: at most one per member and generation (the database
    says so), so a double click or a replayed request cannot star twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favorites"
    )
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="favorites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("favorite")
        verbose_name_plural = _("favorites")
        constraints = [
            # Also the index that "starred by me" and the card's star read (user first).
            models.UniqueConstraint(fields=["user", "generation"], name="one_star_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.generation_id}"


class SearchEntry(models.Model):
    """A row of SQLite's search index (``generations/search_index.py``), so that a search can
    read the index in its own order. The table exists on SQLite only; no code reads this model
    on another database."""

    generation = models.OneToOneField(
        Generation,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="search_entry",
    )
    index = MatchColumn(db_column="generation_search")

    class Meta:
        verbose_name = _("search entry")
        verbose_name_plural = _("search entries")
        managed = False
        db_table = "generation_search"

    def __str__(self) -> str:
        return f"search entry of {self.generation_id}"


@functools.cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name this machine knows (read once: reading them walks a folder)."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name: str) -> None:
    if name not in time_zone_names():
        raise ValidationError(
            _("%(name)s is not a time zone name."), code="invalid", params={"name": name}
        )


class MemberPreference(models.Model):
    """What a member chose for themselves: the language of the pages and the time zone times are
    shown in. Empty means not chosen, and the browser's word counts instead
    (``generations/preferences.py``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preference",
        verbose_name=_("user"),
    )
    # Each language named in itself (settings.LANGUAGES), as the header's switch names it.
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("An IANA name such as Asia/Bangkok; empty for the browser's own."),
    )

    class Meta:
        verbose_name = _("member preference")
        verbose_name_plural = _("member preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.get_language_display() or '-'}, {self.time_zone or '-'}"
