"""Several images per request (issue 11): how the rows of one request are read together.

A request for ``count`` images is ``count`` generations saved in one transaction
(``lifecycle.create``): the lead (``batch_lead`` empty) and its followers, each its own Rivya
task with its own key, reservation, settlement and claimed state machine. Nothing here changes
a row's state; this module only reads a request as one thing, for what shows requests:

- the history lists leads only (:data:`LEADS`), so its keyset pagination, search index and
  filters work on one row per request; a status filter matches a request that has an image in
  that state (:func:`having_status`);
- a card and the detail page show every image of the request (:class:`Batch`), read for a whole
  page of cards in one query (:func:`attach`);
- a star, a board item, a delete and a download's ``?n=`` are the lead's and stand for the
  request (``lead_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from generations.models import UNFINISHED, Generation, GenerationImage, Status

LEADS = Q(batch_lead__isnull=True)


@dataclass(frozen=True)
class Batch:
    """The images of one request, the lead first, in the order they were asked for."""

    members: list[Generation]

    @property
    def lead(self) -> Generation:
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def done(self) -> int:
        return sum(1 for g in self.members if g.status == Status.SUCCEEDED)

    @property
    def failed(self) -> int:
        return sum(1 for g in self.members if g.status == Status.FAILED)

    @property
    def is_finished(self) -> bool:
        return all(g.is_finished for g in self.members)

    @property
    def finished_at(self) -> datetime | None:
        """When its last image finished, once every image has."""
        ends = [g.finished_at for g in self.members]
        return max(e for e in ends if e) if all(ends) else None

    @property
    def failure(self) -> Generation | None:
        """Its first failed image: the card says why it failed."""
        return next((g for g in self.members if g.status == Status.FAILED), None)

    @property
    def all_failed(self) -> bool:
        return self.failed == self.count

    @property
    def status(self) -> str:
        """The request's state as one word: succeeded when every image is, failed when every
        image failed, partly when it ended with some of each, else the lead's unfinished
        state (or processing, if the lead is done and others are not)."""
        if self.done == self.count:
            return Status.SUCCEEDED
        if self.all_failed:
            return Status.FAILED
        if self.is_finished:
            return "partly"
        lead = self.lead.status
        return lead if lead in UNFINISHED else Status.PROCESSING

    @property
    def credits_reserved(self) -> int:
        return sum(g.credits_reserved for g in self.members)

    @property
    def version(self) -> str:
        """What a page saw of the request: the version of each of its images, in order, so
        that a change to any of them changes it (the card refresh compares it for equality).
        A request of one image has its image's version."""
        return "-".join(g.version for g in self.members)

    @property
    def credits_charged(self) -> int:
        return sum(g.credits_final or 0 for g in self.members)

    def images(self) -> list[GenerationImage]:
        """Every stored image of the request, in order: one query."""
        return list(images_of(self.lead))


def followers_of(leads: Iterable[int]) -> QuerySet[Generation]:
    return Generation.objects.filter(batch_lead_id__in=list(leads)).order_by("batch_position")


def of_request(lead_id: int) -> QuerySet[Generation]:
    """Every row of the request whose lead is ``lead_id``, the lead included."""
    return Generation.objects.filter(Q(pk=lead_id) | Q(batch_lead_id=lead_id))


def members_of(lead: Generation) -> list[Generation]:
    """The request's rows, the lead first."""
    return [lead, *followers_of([lead.pk])] if lead.pk else [lead]


def attach(leads: Sequence[Generation]) -> None:
    """Read the followers of every lead in one query and keep each request on its lead
    (``lead.batch``), so a page of cards costs one query more, however many there are."""
    _keep(leads, followers_of(lead.pk for lead in leads).select_related("user"))


def gather(rows: Iterable[Generation]) -> list[Generation]:
    """The leads among ``rows`` (in their order), each with its request kept on it from the
    followers among the same rows: for a query that read leads and followers at once
    (:func:`requests_of`)."""
    rows = list(rows)
    leads = [row for row in rows if row.batch_lead_id is None]
    followers = sorted((row for row in rows if row.batch_lead_id), key=lambda g: g.batch_position)
    _keep(leads, followers)
    return leads


def requests_of(lead_ids: Sequence[int]) -> Q:
    """Every row of the requests whose leads are ``lead_ids`` (an id that is not a lead's
    selects nothing)."""
    return Q(pk__in=lead_ids, batch_lead__isnull=True) | Q(batch_lead_id__in=lead_ids)


def _keep(leads: Sequence[Generation], followers: Iterable[Generation]) -> None:
    found: dict[int, list[Generation]] = {lead.pk: [] for lead in leads}
    for follower in followers:
        found[follower.batch_lead_id or 0].append(follower)
    for lead in leads:
        lead.__dict__["batch"] = Batch([lead, *found[lead.pk]])


def lead_of(generation: Generation) -> Generation:
    """The row that stands for the request ``generation`` belongs to."""
    return generation.batch_lead if generation.batch_lead_id else generation  # type: ignore[return-value]


def images_of(lead: Generation) -> QuerySet[GenerationImage]:
    """Every image stored for the request of ``lead``, of its succeeded rows, in the order the
    images were asked for; each with its generation (its own seed) at hand."""
    return (
        GenerationImage.objects.filter(
            Q(generation_id=lead.pk) | Q(generation__batch_lead_id=lead.pk),
            generation__status=Status.SUCCEEDED,
        )
        .select_related("generation")
        .order_by("generation__batch_position", "position")
    )


def having_status(statuses: Sequence[str], *, few: bool = False) -> Q:
    """Leads of requests with an image in one of ``statuses``: the lead itself, or one of its
    followers. Two ways to ask, so the history's page stays one walk down an index:

    - ``few`` (the unfinished states: a handful of rows by design, since the reconciler ends
      any past its time budget): the requests of those rows, as a list read from the status
      index; the page sorts the few it finds.
    - otherwise (done, failed: a large share of the rows): the lead's own status, or a
      follower found through the ``batch_lead`` index, tested row by row as the page walks the
      history newest first and stops after a page. A list of every request with a succeeded
      image would be most of the table, read and sorted for every page.
    """
    if few:
        rows = Generation.objects.filter(status__in=statuses)
        return Q(pk__in=rows.values(request_id=Coalesce("batch_lead_id", "id")))
    followers = Generation.objects.filter(batch_lead_id=OuterRef("pk"), status__in=statuses)
    return Q(status__in=statuses) | Q(Exists(followers))
