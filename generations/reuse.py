"""Making an image again from one the team can see: the studio's form filled from its settings
(``GET /?reuse=<pk>``, and ``&seed=new`` for the same settings with a new seed; a request of
several images fills its count too), and the model's
name for the detail page's list of everything needed to make it again.

Reuse only reads: it fills a form the member still checks and sends. Nothing is reserved or sent
until they press Generate, and a link that names no image the team can see (a bad id, a deleted
or unknown image) still opens the studio, with a short notice and the usual empty form.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations import batches, catalog
from generations.models import Generation
from generations.rivya import ModelInfo

NEW_SEED = "new"
BAD_LINK = _("That link does not name an image, so the form starts empty.")
GONE = _("The image that link names is gone, so the form starts empty.")


class ReuseQuery(forms.Form):
    """``reuse`` (a generation's id) and ``seed`` (``new`` for a new seed) from the query."""

    reuse = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    seed = forms.ChoiceField(choices=[("", ""), (NEW_SEED, NEW_SEED)], required=False)


@dataclass(frozen=True)
class Reused:
    """The form's initial values taken from a generation, and the note above the form."""

    initial: dict[str, str]
    note: str


def form_initial(request: HttpRequest, visible: QuerySet[Generation]) -> dict[str, str]:
    """The generate form's initial values for ``/?reuse=<pk>`` (empty without it), with a note
    above the form (a message) saying where they came from, or why the form starts empty.
    ``visible`` is what the team can see: anyone's image, not deleted."""
    if "reuse" not in request.GET:
        return {}
    query = ReuseQuery(request.GET)
    if not query.is_valid():
        messages.warning(request, BAD_LINK)
        return {}
    found = visible.filter(pk=query.cleaned_data["reuse"]).first()
    if found is None:
        messages.warning(request, GONE)
        return {}
    source = batches.lead_of(found)  # an image of a request: the request's settings
    new_seed = query.cleaned_data["seed"] == NEW_SEED
    reused = settings_of(source, catalog.available_models(), request.user.pk, new_seed=new_seed)
    messages.info(request, reused.note)
    return reused.initial


def settings_of(
    source: Generation, offered: list[ModelInfo], member_id: int | None, *, new_seed: bool
) -> Reused:
    """The form's values from ``source`` (a request's lead): prompt, negative prompt, ratio,
    model (when the form still offers it; else the form's default, and the note says so), seed
    (left empty for a new one) and count. ``member_id`` is who asks: their own image is "your
    image"."""
    initial = {
        "prompt": source.prompt,
        "negative_prompt": source.negative_prompt,
        "count": str(source.batch.count),
    }
    model = next((m for m in offered if m.id == source.model), None)
    if model is not None:
        initial["model"] = model.id
    if model is None or source.aspect_ratio in catalog.aspect_ratios(model):
        initial["aspect_ratio"] = source.aspect_ratio
    if source.seed is not None and not new_seed:
        initial["seed"] = str(source.seed)
    note = _whose(source, member_id, new_seed=new_seed)
    if model is None:
        name = catalog.display_name(source.model)
        gone = gettext("%(model)s is not offered any more, so the default model is chosen instead.")
        note = f"{note} {gone % {'model': name}}"
    return Reused(initial=initial, note=note)


def _whose(source: Generation, member_id: int | None, *, new_seed: bool) -> str:
    day = date_format(timezone.localtime(source.created_at), "DATE_FORMAT")
    if source.user_id == member_id:
        if new_seed:
            words = gettext("These settings are from your image of %(day)s, with a new seed.")
        else:
            words = gettext("These settings are from your image of %(day)s.")
        return words % {"day": day}
    if new_seed:
        words = gettext("These settings are from %(member)s's image of %(day)s, with a new seed.")
    else:
        words = gettext("These settings are from %(member)s's image of %(day)s.")
    return words % {"member": source.user.get_username(), "day": day}
