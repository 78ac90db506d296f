from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url, reswap, retarget
from django_htmx.middleware import HtmxDetails

from generations import catalog, credits, favorites, gallery, lifecycle, tasks, usage, webhooks
from generations.forms import GenerateForm
from generations.models import UNFINISHED, Generation
from generations.rivya import RivyaError, get_client

logger = logging.getLogger(__name__)


class MemberRequest(HttpRequest):
    """A request that passed ``login_required`` and the htmx middleware."""

    htmx: HtmxDetails
    user: User


PAGE_SIZE = 24
MAX_REFRESH_IDS = 100
BALANCE_CACHE_KEY = "rivya:balance"
BALANCE_CACHE_SECONDS = 30


def visible_generations() -> QuerySet[Generation]:
    """Everything the team shares: every member sees every generation that is not deleted."""
    return Generation.objects.filter(deleted_at__isnull=True).select_related("user")


def row_id(text: str) -> int | None:
    """A row id from a query string, or None: ASCII digits only ('²' is a digit to isdigit()
    but not to int()), and short enough for a database integer."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def own_generation_or_404(request: MemberRequest, pk: int) -> Generation:
    """A generation the member may change: their own. Anyone else's answers 404."""
    return get_object_or_404(visible_generations(), pk=pk, user_id=request.user.pk)


def account_balance(*, fetch: bool = True) -> int | None:
    """The Rivya account's credits, cached briefly; None when Rivya cannot tell us, or when
    ``fetch`` is False and nothing is cached (a submit never waits on Rivya for it)."""
    cached: dict[str, int | None] | None = cache.get(BALANCE_CACHE_KEY)
    if cached is None:
        if not fetch:
            return None
        try:
            cached = {"credits": get_client().get_credits()}
        except RivyaError as exc:
            logger.warning("Could not read the Rivya balance: %s", exc.code)
            cached = {"credits": None}
        cache.set(BALANCE_CACHE_KEY, cached, BALANCE_CACHE_SECONDS)
    return cached["credits"]


def _history(request: MemberRequest) -> dict[str, object]:
    history = gallery.find(request.GET, request.user, visible_generations())
    before = row_id(request.GET.get("before", ""))
    page = history.page(before, PAGE_SIZE + 1)
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


def _form_context(form: GenerateForm, *, fetch: bool = True) -> dict[str, object]:
    """What the form shows. ``fetch=False`` (in a POST) uses only what Rivya told us before."""
    models = list(form.models.values())
    cost = _chosen_cost(form)
    balance = account_balance(fetch=fetch)
    return {
        "form": form,
        "models": models,
        "unavailable_models": catalog.unoffered_models(fetch=fetch),
        "balance": balance,
        "cost": cost,
        "balance_too_low": balance is not None and balance < cost,
        "prompt_max": max((m.max_prompt_length or 0 for m in models), default=5000) or 5000,
    }


def _new_form(data: dict[str, str] | None = None, *, fetch: bool = True) -> GenerateForm:
    initial = {k: v for k, v in (data or {}).items() if k != "form_token"}
    return GenerateForm(initial=initial, models=catalog.available_models(fetch=fetch))


@login_required
@require_GET
def home(request: MemberRequest) -> HttpResponse:
    history = _history(request)
    status = 400 if history["history_filter_invalid"] else 200
    if request.htmx and request.htmx.target == "history":
        response = render(request, "generations/home.html#history", history, status=status)
        if request.htmx.trigger == "history-filter" and status == 200:
            push_url(response, f"{reverse('home')}?{history['history_query']}")  # no empty fields
        return response
    context = {**_form_context(_new_form()), **history}
    return render(request, "generations/home.html", context, status=status)


@login_required
@require_POST
def create(request: MemberRequest) -> HttpResponse:
    # No remote call in a POST: the model list and balance come from what was last fetched.
    form = GenerateForm(request.POST, models=catalog.available_models(fetch=False))
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
            )
        except credits.OverBudget as exc:
            form.add_error(None, exc.message)
        else:
            if created:
                pk = generation.pk
                transaction.on_commit(lambda: tasks.enqueue_submit(pk))
    if generation is None:
        return _form_errors(request, form)
    if not request.htmx:
        messages.success(request, "Your image is on its way.")
        return redirect("home")
    kept = {k: str(v) for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    form_context = _form_context(_new_form(kept, fetch=False), fetch=False)
    context = {**form_context, "generation": generation, "oob_form": True}
    return render(request, "generations/home.html#created", context)


def _form_errors(request: MemberRequest, form: GenerateForm) -> HttpResponse:
    if request.htmx:
        context = _form_context(form, fetch=False)
        response = render(request, "generations/home.html#generate-form", context)
        return reswap(retarget(response, "#generate-form"), "outerHTML")
    context = {**_form_context(form, fetch=False), **_history(request)}
    return render(request, "generations/home.html", context, status=400)


@login_required
@require_GET
def cards(request: MemberRequest) -> HttpResponse:
    """Every requested card in one response (out-of-band swaps), from one query."""
    ids = [pk for i in request.GET.getlist("id")[:MAX_REFRESH_IDS] if (pk := row_id(i))]
    generations = list(visible_generations().filter(pk__in=ids).order_by("-pk"))
    return render(request, "generations/home.html#card-updates", {"generations": generations})


@login_required
@require_GET
def detail(request: MemberRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(visible_generations(), pk=pk)
    images = list(generation.images.all()) if generation.status == "succeeded" else []
    return render(request, "generations/detail.html", {"generation": generation, "images": images})


@login_required
@require_POST
def delete(request: MemberRequest, pk: int) -> HttpResponse:
    generation = own_generation_or_404(request, pk)
    if generation.status in UNFINISHED:
        messages.error(request, "This image is still being made; delete it once it is done.")
    else:
        Generation.objects.filter(pk=generation.pk).update(deleted_at=timezone.now())
        if request.htmx:
            return HttpResponse("")
        messages.success(request, "Deleted.")
    if request.htmx:
        return render(request, "generations/home.html#card", {"generation": generation})
    return HttpResponseRedirect(reverse("home"))


@staff_member_required
@require_GET
def usage_page(request: MemberRequest) -> HttpResponse:
    period = usage.Period.from_query(request.GET, today=timezone.localdate())
    context = {
        "period": period,
        "report": usage.report(period),
        "balance": account_balance(),
        "problems": usage.recent_admin_problems(since=timezone.now() - timedelta(days=1)),
        "monthly_budget": settings.DEFAULT_MONTHLY_BUDGET,
    }
    return render(request, "generations/usage.html", context)


@csrf_exempt  # Rivya cannot send our CSRF token; the signature authenticates the request
@require_POST
def rivya_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request)


# -- Favorites (issue 11, "Keep") -----------------------------------------------------------------


def _back(request: MemberRequest) -> str:
    """Where a plain (no JavaScript) form returns to: its ``next`` or the Referer, when either
    is on this site; otherwise the studio."""
    for url in (request.POST.get("next", ""), request.headers.get("referer", "")):
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url
    return reverse("home")


@login_required
@require_POST
def favorite(request: MemberRequest, pk: int) -> HttpResponse:
    """The member's own star on any visible generation. ``star=1`` sets it and ``star=0``
    clears it (so a double click cannot undo itself); without ``star`` it toggles."""
    generation = get_object_or_404(visible_generations(), pk=pk)
    wanted = request.POST.get("star")
    if wanted not in (None, "0", "1"):
        return HttpResponseBadRequest("Star with star=1, or clear the star with star=0.")
    if wanted is None:
        starred = favorites.toggle(request.user, generation)
    else:
        starred = favorites.set_star(request.user, generation, wanted == "1")
    if request.htmx:
        context = {"generation": generation, "starred": starred}
        return render(request, "generations/_favorite_star.html", context)
    return HttpResponseRedirect(_back(request))
