from __future__ import annotations

import io
import logging
import posixpath
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import IO, Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.functional import Promise
from django.utils.http import (
    content_disposition_header,
    url_has_allowed_host_and_scheme,
    urlencode,
)
from django.utils.translation import gettext, gettext_lazy, gettext_noop
from django.views import i18n
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, reswap, retarget
from django_htmx.middleware import HtmxDetails

from generations import (
    batches,
    boards,
    catalog,
    chart,
    credits,
    favorites,
    gallery,
    health,
    lifecycle,
    metadata,
    preferences,
    reuse,
    tasks,
    usage,
    webhooks,
)
from generations.forms import GenerateForm
from generations.models import Board, Generation, GenerationImage, Status
from generations.rivya import ModelInfo
from generations.templatetags.studio import banner_state

logger = logging.getLogger(__name__)


class MemberRequest(HttpRequest):
    """A request that passed ``login_required`` and the htmx middleware."""

    htmx: HtmxDetails
    user: User


PAGE_SIZE = 24
MAX_REFRESH_IDS = 100


def admins_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """An admin's page. Signed out: the sign-in page, then back here. Signed in as a member: 403,
    the studio's page saying it is the admins' (Django's ``staff_member_required`` sends a
    member to the admin site's sign-in instead, which reads as if they had mistyped)."""

    @wraps(view)
    @login_required
    def guarded(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def visible_generations() -> QuerySet[Generation]:
    """Everything the team shares: every member sees every generation that is not deleted."""
    return Generation.objects.filter(deleted_at__isnull=True).select_related("user")


def row_id(text: str) -> int | None:
    """A row id from a query string, or None: ASCII digits only ('²' is a digit to isdigit()
    but not to int()), and short enough for a database integer."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def return_url(request: HttpRequest, fallback: str, *candidates: str) -> str:
    """The first of ``candidates`` that is on this site (never an open redirect), else
    ``fallback``: where a form without JavaScript goes back to."""
    for url in candidates:
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url
    return fallback


def own_generation_or_404(request: MemberRequest, pk: int) -> Generation:
    """A request the member may change: their own (its lead, for any of its images). Anyone
    else's answers 404."""
    found = get_object_or_404(visible_generations(), pk=pk, user_id=request.user.pk)
    return batches.lead_of(found)


def visible_request_or_404(pk: int) -> Generation:
    """The request (its lead) of any image the team can see, or 404."""
    return batches.lead_of(get_object_or_404(visible_generations(), pk=pk))


def visible_requests() -> QuerySet[Generation]:
    """What the history and its cards list: one row per request, its lead."""
    return visible_generations().filter(batches.LEADS)


def _history(request: MemberRequest) -> dict[str, object]:
    history = gallery.find(request.GET, request.user, visible_requests())
    before = row_id(request.GET.get("before", ""))
    page = history.page(before, PAGE_SIZE + 1)
    batches.attach(page)
    return {
        "generations": page[:PAGE_SIZE],
        "next_before": page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None,
        "who": history.who,
        "deep": before is not None,
        **history.context(),
    }


def _chosen_cost(form: GenerateForm) -> int:
    """What the model shown as chosen costs (the cheapest if none is): app.js keeps the button
    and the credits warning in step when the member picks another."""
    chosen = form.models.get(str(form["model"].value()))
    if chosen is not None:
        return chosen.base_credits
    return min((m.base_credits for m in form.models.values()), default=0)


def _balance_context(cost: int) -> dict[str, object]:
    """The balance as last kept (None until beat has read one), and when it was read if that
    was a while ago: the page says "as of 10:42" then."""
    kept = health.balance()
    balance = kept.value if kept else None
    return {
        "balance": balance,
        "balance_as_of": kept.at if kept and health.is_old(kept.at) else None,
        "balance_too_low": balance is not None and balance < cost,
    }


def _budget_context(user: AbstractBaseUser, cost: int) -> dict[str, object]:
    """The member's budget beside the Generate button (one query): what is left this month, and
    whether the chosen cost takes it to ``WARN_PERCENT`` or past its end. app.js redoes the two
    sums when the member picks another model."""
    budget = credits.member_standing(user)
    return {
        "budget": budget,
        "budget_near": budget.near(cost),
        "budget_over": budget.over(cost),
        "budget_warn_percent": credits.WARN_PERCENT,
    }


def _form_context(form: GenerateForm, user: AbstractBaseUser) -> dict[str, object]:
    """What the form shows: only what workers last learned from Rivya (no request asks it), and
    the member's budget."""
    models = list(form.models.values())
    cost = _chosen_cost(form)
    return {
        "form": form,
        "models": models,
        "unavailable_models": catalog.unoffered_models(),
        "cost": cost,
        **_balance_context(cost),
        **_budget_context(user, cost),
    }


def _new_form(data: dict[str, str] | None = None) -> GenerateForm:
    initial = {k: v for k, v in (data or {}).items() if k != "form_token"}
    return GenerateForm(initial=initial, models=catalog.available_models())


@login_required
@require_GET
def home(request: MemberRequest) -> HttpResponse:
    history = _history(request)
    status = 400 if history["history_filter_invalid"] else 200
    if request.htmx and request.htmx.target == "history":
        response = render(request, "generations/home.html#history", history, status=status)
        if request.htmx.trigger == "history-filter" and status == 200:
            # The query without its empty fields: a link a member can send.
            push_url(response, f"{reverse('generations:home')}?{history['history_query']}")
        return response
    reused = reuse.form_initial(request, visible_generations())  # ?reuse=<pk>: issue 11
    context = {**_form_context(_new_form(reused), request.user), **history}
    return render(request, "generations/home.html", context, status=status)


@login_required
@require_POST
def create(request: MemberRequest) -> HttpResponse:
    form = GenerateForm(request.POST, models=catalog.available_models())
    generation = None
    if form.is_valid() and (model := form.chosen_model):
        data = form.cleaned_data
        try:
            generation, created = lifecycle.create(
                request.user,
                form_token=data["form_token"],
                model=model,
                prompt=data["prompt"],
                aspect_ratio=data["aspect_ratio"],
                negative_prompt=data["negative_prompt"],
                seed=data["seed"],
                count=data["count"],
            )
        except credits.OverBudget as exc:
            form.add_error(None, exc.message)
        else:
            if created:
                _enqueue_request(generation)
    if generation is None:
        return _form_errors(request, form)
    if not request.htmx:
        messages.success(request, gettext("Your image is on its way."))
        return redirect("generations:home")
    kept = {k: str(v) for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    form_context = _form_context(_new_form(kept), request.user)
    context = {**form_context, "generation": generation, "oob_form": True}
    return render(request, "generations/home.html#created", context)


def _form_errors(request: MemberRequest, form: GenerateForm) -> HttpResponse:
    if request.htmx:
        context = _form_context(form, request.user)
        response = render(request, "generations/home.html#generate-form", context)
        return reswap(retarget(response, "#generate-form"), "outerHTML")
    context = {**_form_context(form, request.user), **_history(request)}
    return render(request, "generations/home.html", context, status=400)


@login_required
@require_GET
def cards(request: MemberRequest) -> HttpResponse:
    """The pending cards of a page that changed since it drew them, in one response (out-of-band
    swaps) from one query, and the Rivya banner (out of band too), so it comes and goes by
    itself while a page waits. Nothing changed: an empty 204, which htmx does not swap.

    The page sends each card as ``id=<pk>:<version>``, the version the card carries (its
    request's ``Batch.version``: the ``Generation.version`` of each of its images, each its
    row's ``updated_at``, which every UPDATE moves), and the
    banner as ``banner=<state>`` (``banner_state``). A token per card, compared for equality,
    is exact whatever the order in which workers commit, where "changed after the newest time
    seen" could miss a row committed late with an earlier time. A card is answered when its
    version differs; one sent without a version (``id=<pk>``, as before) or with one that is
    not a version is answered in full, so a page that sends nonsense heals on the next answer
    rather than getting stuck on a 400 its refresh ignores. Without ``banner`` the banner is
    always answered. What a card shows that moves with the clock (the time since it was asked
    for, the wait until the next try) ticks in the page (static/js/app.js), not here. A star
    given in another tab shows on the next change to the row, or on a reload.
    """
    seen = _seen_versions(request.GET.getlist("id")[:MAX_REFRESH_IDS])
    # The cards' requests, every image of each, in the same one query.
    rows = visible_generations().filter(batches.requests_of(list(seen)))
    requests = batches.gather(favorites.with_stars(rows, request.user).order_by("-pk"))
    changed = [g for g in requests if g.batch.version != seen[g.pk]]
    outage = health.outage()
    if not changed and request.GET.get("banner") == banner_state(outage):
        return HttpResponse(status=204)
    context = {"generations": changed, "rivya_outage": outage}
    return render(request, "generations/home.html#card-updates", context)


def _seen_versions(items: list[str]) -> dict[int, str | None]:
    """``pk:version`` (or a bare ``pk``) as sent by a page: the version it has of each card.
    Items whose pk is not a row id are left out, as they always were."""
    seen: dict[int, str | None] = {}
    for item in items:
        pk, _, version = item.partition(":")
        if (row := row_id(pk)) is not None:
            seen[row] = version or None
    return seen


@login_required
@require_GET
def detail(request: MemberRequest, pk: int) -> HttpResponse:
    """A request and every image of it; an image of a request answers with the request's page."""
    generation = visible_request_or_404(pk)
    if generation.pk != pk:
        return redirect("generations:detail", pk=generation.pk)
    starred = favorites.is_starred(request.user, generation)
    batch = generation.batch
    images = batch.images()
    context = {"generation": generation, "batch": batch, "images": images, "starred": starred}
    return render(request, "generations/detail.html", context)


@login_required
@require_POST
def delete(request: MemberRequest, pk: int) -> HttpResponse:
    """Delete the member's finished request, every image of it (undone by restore)."""
    generation = own_generation_or_404(request, pk)
    if not generation.batch.is_finished:
        messages.error(
            request, gettext("This image is still being made; delete it once it is done.")
        )
    else:
        batches.of_request(generation.pk).update(deleted_at=timezone.now())
        if request.htmx:  # "Deleted · Undo" in the card's place, for UNDO_SECONDS
            context = {"generation": generation, "undo_seconds": UNDO_SECONDS}
            return render(request, "generations/_deleted.html", context)
        messages.success(request, gettext("Deleted."))
    if request.htmx:
        return render(request, "generations/home.html#card", {"generation": generation})
    return redirect("generations:home")


# -- Credit usage: the team's for admins, each member's own (issue 12) ----------------------------

CHART_BY = {"member": usage.MEMBER, "model": usage.MODEL}
STACKED_BY = {"member": gettext_noop("by member"), "model": gettext_noop("by model")}
CHART_BY_UNKNOWN = gettext_noop("The chart is stacked by member or by model; showing it by member.")


def _usage_link(start: date, end: date, by: str) -> str:
    """The page's query for a period, the chart as it is: a link that keeps both."""
    return "?" + urlencode({"start": start.isoformat(), "end": end.isoformat(), "by": by})


def _usage_context(request: MemberRequest, by: str, user: User | None) -> dict[str, Any]:
    """What both usage pages show: the period (its presets, its error), the report of the team
    (or of ``user``) and its chart."""
    today = timezone.localdate()
    period = usage.Period.from_query(request.GET, today=today)
    report = usage.report(period, user)
    presets = [(p, _usage_link(p.start, p.end, by)) for p in usage.presets(today)]
    return {
        "period": period,
        "report": report,
        "presets": presets,
        "chart": chart.stacked(period.days, report["cells"], CHART_BY[by], "charged"),
        "stacked_by": gettext(STACKED_BY[by]),
        "errors": [period.error] if period.error else [],
    }


@admins_only
@require_GET
def usage_page(request: MemberRequest) -> HttpResponse:
    asked = request.GET.get("by") or "member"
    by = asked if asked in CHART_BY else "member"
    context = _usage_context(request, by, None)
    period = context["period"]
    for row in context["report"]["by_member"]:
        row["failures_url"] = usage.history_link(period, row[usage.MEMBER])
    errors = context["errors"] + ([gettext(CHART_BY_UNKNOWN)] if asked != by else [])
    dates = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    models = catalog.kept_models()
    context |= {
        "errors": errors,
        "by": by,
        "chart_links": {name: _usage_link(period.start, period.end, name) for name in CHART_BY},
        "export_url": f"{reverse('generations:usage-export')}?{urlencode(dates)}",
        "agreement": usage.agreement(period),
        **_balance_context(0),
        "rivya": health.health(),
        "models_at": models.at if models else None,
        "problems": usage.recent_admin_problems(since=timezone.now() - timedelta(days=1)),
    }
    return render(request, "generations/usage.html", context, status=400 if errors else 200)


@login_required
@require_GET
def usage_me(request: MemberRequest) -> HttpResponse:
    """The member's own spending, per day and per model, and how their generations went."""
    context = _usage_context(request, "model", request.user)
    period, name = context["period"], request.user.get_username()
    context |= {
        "budget": usage.budgets([name])[name],
        "failed_url": usage.history_link(period, name, Status.FAILED),
        "succeeded_url": usage.history_link(period, name, Status.SUCCEEDED),
    }
    status = 400 if period.error else 200
    return render(request, "generations/usage_me.html", context, status=status)


@admins_only
@require_GET
def usage_export(request: MemberRequest) -> HttpResponseBase:
    """Every ledger entry of the period as CSV, streamed: the header leaves at once and memory
    stays flat however many rows follow."""
    try:
        period = usage.Period.parse(request.GET, today=timezone.localdate())
    except usage.BadPeriod as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(usage.export_csv(period), content_type="text/csv")
    name = f"credits-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@csrf_exempt  # Rivya cannot send our CSRF token; the signature authenticates the request
@require_POST
def rivya_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request)


# -- Take away: an original, named from its prompt, with its request written in (issue 11) --------

DOWNLOAD_BAD_NUMBER = gettext_lazy(
    "Choose the image by its number: n=1 for the first image, n=2 for the second, and so on."
)


def _image_number(request: MemberRequest) -> int | None:
    """The 1-based ``n`` of a download, 1 when it is not given; None when it is not a number."""
    number = row_id(request.GET.get("n", "1"))
    return number if number is not None and number >= 1 else None


def _image_facts(generation: Generation, image: GenerationImage) -> metadata.ImageFacts:
    return metadata.ImageFacts(
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        seed=generation.seed,
        model=generation.model,
        aspect_ratio=generation.aspect_ratio,
        width=image.width,
        height=image.height,
    )


def _written(name: str, data: bytes, facts: metadata.ImageFacts) -> bytes:
    try:
        return metadata.with_metadata(data, facts)
    except metadata.NotWritable as exc:
        # The downloader stores only PNG, JPEG and WebP files Pillow could decode, so this is one
        # whose structure our writer does not follow: the member still gets the original.
        logger.warning("Download of %s served without its request written in: %s", name, exc)
        return data


def _attachment(name: str, ascii_name: str) -> str:
    """``Content-Disposition`` with the UTF-8 name and an ASCII one for clients that cannot
    read it (RFC 6266 section 4.3); Django's own header gives only one of the two."""
    if name == ascii_name:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _attachment_response(body: IO[bytes], kind: str | None, name: str) -> FileResponse:
    content_type = metadata.CONTENT_TYPES.get(kind or "", "application/octet-stream")
    response = FileResponse(body, content_type=content_type)
    response["Content-Disposition"] = name
    patch_cache_control(response, private=True)  # members only: no shared cache keeps it
    return response


@login_required
@require_GET
def download(request: MemberRequest, pk: int) -> HttpResponseBase:
    """The n-th original of a generation the team shares, as an attachment named from its
    prompt, with its request written into the file (generations/metadata.py).

    1. Refuse an ``n`` that is not a whole number from 1 (400), before any query.
    2. Find the request (the lead of the image named): any member's, not deleted, or 404.
    3. Find its n-th image, counting every stored image of the request in order, or 404.
    4. Read the original through the storage API; a file missing from storage is a 404.
    5. Write the request in, in memory (the downloader stores nothing over RESULT_MAX_BYTES);
       a larger file, should one be there, is streamed as it is.
    6. Answer it with a name made from the prompt.
    """
    number = _image_number(request)
    if number is None:
        return _refuse(400, DOWNLOAD_BAD_NUMBER)
    generation = visible_request_or_404(pk)
    image = batches.images_of(generation)[number - 1 : number].first()
    name = image.image.name if image is not None else None
    if image is None or not name:
        raise Http404("This generation has no image with that number.")
    try:
        stored = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The image file is missing.") from None
    original = stored.read(settings.RESULT_MAX_BYTES + 1)
    body: IO[bytes] = stored  # FileResponse closes it once sent
    if len(original) > settings.RESULT_MAX_BYTES:
        stored.seek(0)
    else:
        stored.close()
        body = io.BytesIO(_written(name, original, _image_facts(image.generation, image)))
    kind = metadata.kind_of(original)
    extension = metadata.EXTENSIONS.get(kind or "", posixpath.splitext(name)[1])
    names = metadata.download_names(generation.prompt, number, extension, f"image-{pk}")
    return _attachment_response(body, kind, _attachment(*names))


# == Boards (issue 11) =============================================================================
# The team's shared sets of images; the logic is in generations/boards.py. Every member sees every
# board and adds or removes images on it; renaming and deleting are its maker's or an admin's.
# Those two answer 403 to anyone else, not 404 as another member's generation does: the board is
# on every member's page, so a 404 would hide nothing and only mislead.

NOT_THE_BOARDS_MAKER = gettext_lazy("Only the board's maker or an admin can rename or delete it.")
NO_GENERATION = gettext_lazy("Say which image: the generation field must be an image's number.")
NOT_FINISHED = gettext_lazy("Only a finished image can be kept on a board.")


def board_or_404(pk: int) -> Board:
    """A board of the team: every member may see any of them."""
    return get_object_or_404(Board.objects.select_related("maker"), pk=pk)


def _refuse(status: int, message: str | Promise) -> HttpResponse:
    """The answer to a request no page of ours sends as it is (a form edited by hand, a page left
    open after a change): the sentence in plain text; htmx shows its own banner."""
    # str(): a lazy translation is not a str, and HttpResponse would read it as an iterable.
    return HttpResponse(str(message), status=status, content_type="text/plain; charset=utf-8")


def _posted_generation(request: MemberRequest) -> Generation | None:
    """The image named by ``generation=``: None when it is missing or not a number (the caller
    answers 400); 404 when the team cannot see it (unknown or deleted)."""
    pk = row_id(request.POST.get("generation", ""))
    if pk is None:
        return None
    return visible_request_or_404(pk)


def _back(request: MemberRequest, board: Board) -> str:
    """Where a form without JavaScript returns to: its ``next``, else the board."""
    board_url = reverse("generations:board", args=[board.pk])
    return return_url(request, board_url, request.POST.get("next", ""))


def _menu_answer(
    request: MemberRequest, board: Board, generation: Generation, note: str
) -> HttpResponse:
    """htmx: the board menu that asked, redrawn with the note. Without JavaScript: back where
    the member was, with the note as a message."""
    back = _back(request, board)
    if not request.htmx:
        messages.success(request, note)
        return redirect(back)
    context = {
        **boards.menu_context(generation),
        "generation": generation,
        "board_message": note,
        "next": back,
    }
    return render(request, "generations/_board_menu.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def board_list(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
        return _make_board(request)
    return render(request, "generations/boards.html", _board_list_context())


def _board_list_context(**extra: object) -> dict[str, object]:
    return {"summaries": boards.summaries(), "name_max": Board.NAME_MAX_LENGTH, **extra}


def _make_board(request: MemberRequest) -> HttpResponse:
    name = request.POST.get("name", "")
    try:
        board = boards.make(request.user, name)
    except boards.BadName as exc:
        context = _board_list_context(name_error=exc.message, name_value=name)
        return render(request, "generations/boards.html", context, status=400)
    messages.success(
        request,
        gettext("The board “%(board)s” is made. Add images to it below.") % {"board": board.name},
    )
    return redirect("generations:board", pk=board.pk)


def _board_context(request: MemberRequest, board: Board, **extra: object) -> dict[str, object]:
    before = row_id(request.GET.get("before", ""))
    page = boards.items(board, before=before)
    return {
        "board": board,
        "items": page.items,
        "next_before": page.next_before,
        "deep": before is not None,
        "image_count": boards.visible_items(board).count(),
        "may_change": boards.may_change(request.user, board),
        "recent": boards.recent_to_add(board),
        "name_max": Board.NAME_MAX_LENGTH,
        **extra,
    }


@login_required
@require_GET
def board_page(request: MemberRequest, pk: int) -> HttpResponse:
    board = board_or_404(pk)
    context = _board_context(request, board)
    if request.htmx and request.htmx.target == "board-items":
        return render(request, "generations/board.html#items", context)
    return render(request, "generations/board.html", context)


@login_required
@require_POST
def board_add(request: MemberRequest, pk: int) -> HttpResponse:
    board = board_or_404(pk)
    generation = _posted_generation(request)
    if generation is None:
        return _refuse(400, NO_GENERATION)
    if not generation.batch.done:
        return _refuse(400, NOT_FINISHED)
    if boards.add(board, generation, request.user):
        note = gettext("Added to “%(board)s”.") % {"board": board.name}
    else:
        note = gettext("This image is already on “%(board)s”.") % {"board": board.name}
    return _menu_answer(request, board, generation, note)


@login_required
@require_POST
def board_remove(request: MemberRequest, pk: int) -> HttpResponse:
    board = board_or_404(pk)
    generation = _posted_generation(request)
    if generation is None:
        return _refuse(400, NO_GENERATION)
    if boards.remove(board, generation):
        note = gettext("Removed from “%(board)s”.") % {"board": board.name}
    else:
        note = gettext("This image was not on “%(board)s”.") % {"board": board.name}
    if request.htmx and request.htmx.target == f"board-item-{generation.pk}":
        return HttpResponse("")  # the board page's tile, which htmx then takes away
    return _menu_answer(request, board, generation, note)


@login_required
@require_POST
def board_rename(request: MemberRequest, pk: int) -> HttpResponse:
    board = board_or_404(pk)
    if not boards.may_change(request.user, board):
        return _refuse(403, NOT_THE_BOARDS_MAKER)
    name = request.POST.get("name", "")
    try:
        boards.rename(board, name)
    except boards.BadName as exc:
        context = _board_context(request, board, rename_error=exc.message, rename_value=name)
        return render(request, "generations/board.html", context, status=400)
    messages.success(
        request, gettext("The board is now called “%(board)s”.") % {"board": board.name}
    )
    return redirect("generations:board", pk=board.pk)


@login_required
@require_POST
def board_delete(request: MemberRequest, pk: int) -> HttpResponse:
    board = board_or_404(pk)
    if not boards.may_change(request.user, board):
        return _refuse(403, NOT_THE_BOARDS_MAKER)
    boards.delete(board)
    messages.success(
        request,
        gettext("The board “%(board)s” is deleted. Its images are still in the studio.")
        % {"board": board.name},
    )
    return redirect("generations:boards")


@login_required
@require_GET
def board_zip(request: MemberRequest, pk: int) -> StreamingHttpResponse:
    """Every original on the board as one zip, written while it is sent (boards.archive)."""
    board = board_or_404(pk)
    archive = boards.archive(board)
    response = StreamingHttpResponse(archive.chunks(), content_type="application/zip")
    response["Content-Length"] = str(archive.size)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=boards.zip_file_name(board)
    )
    return response


# == Reuse, retry, cancel, stop waiting, undo a delete (issue 11) ==================================
# Making an image again, and ending one early. Retry, cancel and stop waiting act on the member's
# own generation only (404 for anyone else's, as delete does): retry spends the member's budget
# in their name, so a colleague's failed image is made again with "Reuse settings" instead, where
# the member sees what they send. The lifecycle does the claiming (lifecycle.cancel,
# lifecycle.stop_waiting, lifecycle.create); these views check, call and answer.

UNDO_SECONDS = 10  # how long a deleted card offers "Undo"
# The page hides "Undo" after UNDO_SECONDS; a click just before then still arrives in time.
UNDO_GRACE = timedelta(seconds=2)
TOO_LATE_TO_UNDO = gettext_lazy(
    "Too late to undo: the image was deleted more than ten seconds ago."
)
ONLY_A_FAILED_ONE = gettext_lazy(
    "Only a failed image can be tried again. Use “Reuse settings” to make it again."
)
STALE_FORM = gettext_lazy("This button is out of date. Reload the page and try again.")
RETRY_MODEL_GONE = gettext_noop(
    "{model} is not offered any more, so this image cannot be tried again as it was. Use "
    "“Reuse settings” to make it with another model."
)
RETRY_RATIO_GONE = gettext_noop(
    "{model} no longer offers the {ratio} aspect ratio, so this image cannot be tried again as "
    "it was. Use “Reuse settings” to pick another."
)
RETRIED_NOTE = gettext_lazy("Trying again: your new image is on its way.")
CANCELLED_NOTE = gettext_lazy(
    "Cancelled. Nothing was sent to Rivya, and its credits are back in your budget."
)
STOPPED_NOTE = gettext_lazy(
    "You stopped waiting for this image, and its credits are back in your budget. If Rivya "
    "finishes it after all, it will appear here and its credits will be charged then."
)
RESTORED_NOTE = gettext_lazy("The image is back.")


def deleted_own_generation_or_404(request: MemberRequest, pk: int) -> Generation:
    """A generation the member deleted: their own, deleted. Anyone else's answers 404."""
    deleted = Generation.objects.filter(deleted_at__isnull=False).select_related("user")
    return batches.lead_of(get_object_or_404(deleted, pk=pk, user_id=request.user.pk))


def _return_to(request: MemberRequest) -> str:
    """Where a form without JavaScript returns to: its ``next``, else the studio."""
    return return_url(request, reverse("generations:home"), request.POST.get("next", ""))


def _not_done(request: MemberRequest, status: int, message: str | Promise) -> HttpResponse:
    """A request that changed nothing: htmx gets the sentence (app.js shows it in the page's
    banner); a form without JavaScript goes back with it as a message."""
    if request.htmx:
        return _refuse(status, message)
    messages.error(request, str(message))
    return redirect(_return_to(request))


def _card_or_back(
    request: MemberRequest, generation: Generation, note: str | Promise
) -> HttpResponse:
    """Done: htmx gets the generation's card as it is now; a form goes back with the note."""
    if request.htmx:
        fresh = visible_generations().get(pk=generation.pk)
        return render(request, "generations/home.html#card", {"generation": fresh})
    messages.success(request, str(note))
    return redirect(_return_to(request))


def _end_early(
    request: MemberRequest,
    generation: Generation,
    end: Callable[[int, AbstractBaseUser], None],
    note: str | Promise,
) -> HttpResponse:
    """Cancel or stop waiting (``end``) for every unfinished image of the request that allows
    it: the card as it is now, or 409 saying why not when none did."""
    refusal = lifecycle.CannotEnd(lifecycle.ALREADY_FINISHED)
    ended = False
    for member in generation.batch.members:
        if member.is_finished:
            continue
        try:
            end(member.pk, request.user)
        except lifecycle.CannotEnd as exc:
            refusal = exc
        else:
            ended = True
    if not ended:
        return _not_done(request, 409, gettext(refusal.message))
    return _card_or_back(request, generation, note)


def _retry_model(original: Generation) -> ModelInfo | str:
    """The model to try ``original`` again with, as the form offers it now (no call to Rivya in
    a POST), or why it cannot be."""
    offered = catalog.available_models()
    model = next((m for m in offered if m.id == original.model), None)
    if model is None:
        return gettext(RETRY_MODEL_GONE).format(model=catalog.display_name(original.model))
    if original.aspect_ratio and original.aspect_ratio not in catalog.aspect_ratios(model):
        ratio = original.aspect_ratio
        return gettext(RETRY_RATIO_GONE).format(model=model.display_name, ratio=ratio)
    return model


@login_required
@require_POST
def retry(request: MemberRequest, pk: int) -> HttpResponse:
    """Make the member's failed generation again as a new one, with the same settings.

    1. The member's own generation (404 otherwise), failed (400 otherwise).
    2. The button's ``form_token`` (new each time the button is drawn), so a double click makes
       one generation; missing or malformed: 400.
    3. Its model and ratio as the form offers them now, or 400 saying to reuse the settings.
    4. Save it and reserve its credits (:func:`_make_again`, through lifecycle.create: a new
       key; the budget applies, and a short budget is said, nothing saved); enqueue it once
       the transaction commits.
    5. htmx: the new card, which the button puts at the top of the history; else back home.
    """
    original = own_generation_or_404(request, pk)
    if not original.batch.all_failed:
        return _not_done(request, 400, ONLY_A_FAILED_ONE)
    token = row_uuid(request.POST.get("form_token", ""))
    if token is None:
        return _not_done(request, 400, STALE_FORM)
    model = _retry_model(original)
    if isinstance(model, str):
        return _not_done(request, 400, model)
    try:
        generation = _make_again(request.user, original, model, token)
    except credits.OverBudget as exc:
        return _not_done(request, 400, exc.message)
    if not request.htmx:
        messages.success(request, RETRIED_NOTE)
        return redirect("generations:home")
    return render(request, "generations/home.html#card", {"generation": generation})


def _make_again(user: User, original: Generation, model: ModelInfo, token: uuid.UUID) -> Generation:
    """A new request with ``original``'s settings and count, each image enqueued once it is
    saved (unless the token made it already). A seed the studio picked is picked anew; the
    member's own is kept."""
    generation, created = lifecycle.create(
        user,
        form_token=token,
        model=model,
        prompt=original.prompt,
        aspect_ratio=original.aspect_ratio,
        negative_prompt=original.negative_prompt,
        seed=None if original.seed_picked else original.seed,
        count=original.batch.count,
    )
    if created:
        _enqueue_request(generation)
    return generation


def _enqueue_request(lead: Generation) -> None:
    """Ring the doorbell for every image of a new request once its transaction commits."""
    ids = [member.pk for member in lead.batch.members]

    def enqueue() -> None:
        for pk in ids:
            tasks.enqueue_submit(pk)

    transaction.on_commit(enqueue)


def row_uuid(text: str) -> uuid.UUID | None:
    """A UUID from a form field, or None when it is not one."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@login_required
@require_POST
def cancel(request: MemberRequest, pk: int) -> HttpResponse:
    """Cancel the member's own generation that was not sent to Rivya yet: its credits come back.
    Once sent it cannot be cancelled (409, saying to stop waiting instead)."""
    generation = own_generation_or_404(request, pk)
    return _end_early(request, generation, lifecycle.cancel, CANCELLED_NOTE)


@login_required
@require_POST
def stop_waiting(request: MemberRequest, pk: int) -> HttpResponse:
    """Stop waiting for the member's own generation that was sent to Rivya: it ends here and
    its credits come back; a late result from Rivya still appears, and is then the one charge.
    Not sent yet, finished, or in a worker's hands this moment: 409 saying what to do."""
    generation = own_generation_or_404(request, pk)
    return _end_early(request, generation, lifecycle.stop_waiting, STOPPED_NOTE)


@login_required
@require_POST
def restore(request: MemberRequest, pk: int) -> HttpResponse:
    """Undo the member's delete within UNDO_SECONDS (and a little grace): the card comes back.
    Later: 400, too late to undo. Not deleted, or not theirs: 404."""
    generation = deleted_own_generation_or_404(request, pk)
    recent = timezone.now() - timedelta(seconds=UNDO_SECONDS) - UNDO_GRACE
    undone = batches.of_request(generation.pk).filter(deleted_at__gte=recent)
    if not undone.update(deleted_at=None):
        return _not_done(request, 400, TOO_LATE_TO_UNDO)
    generation.deleted_at = None
    if request.htmx:
        return render(request, "generations/home.html#card", {"generation": generation})
    messages.success(request, RESTORED_NOTE)
    return redirect("generations:home")


# -- Favorites (issue 11, "Keep") -----------------------------------------------------------------


def _back_to_page(request: MemberRequest) -> str:
    """Where a plain (no JavaScript) form returns to: its ``next`` or the Referer, else the
    studio."""
    candidates = (request.POST.get("next", ""), request.headers.get("referer", ""))
    return return_url(request, reverse("generations:home"), *candidates)


STAR_WORDS = gettext_lazy("Star with star=1, or clear the star with star=0.")


@login_required
@require_POST
def favorite(request: MemberRequest, pk: int) -> HttpResponse:
    """The member's own star on any visible generation. ``star=1`` sets it and ``star=0``
    clears it (so a double click cannot undo itself); without ``star`` it toggles."""
    generation = visible_request_or_404(pk)
    wanted = request.POST.get("star")
    if wanted not in (None, "0", "1"):
        return _refuse(400, STAR_WORDS)
    if wanted is None:
        starred = favorites.toggle(request.user, generation)
    else:
        starred = favorites.set_star(request.user, generation, wanted == "1")
    if request.htmx:
        context = {"generation": generation, "starred": starred}
        return render(request, "generations/_favorite_star.html", context)
    return redirect(_back_to_page(request))


# -- Language (issue 13) ---------------------------------------------------------------------------


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (the language cookie, then back to ``next``), and for a signed-in
    member the choice is kept with their account too. A language the studio does not offer: 400,
    nothing changed."""
    language = request.POST.get("language", "")
    offered = dict(settings.LANGUAGES)
    if language not in offered:
        names = " / ".join(offered.values())
        return _refuse(400, gettext("Choose one of the studio's languages: %s.") % names)
    if request.user.is_authenticated:
        preferences.save_language(request.user, language)
    return i18n.set_language(request)
