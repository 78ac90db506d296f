from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget
from django_htmx.middleware import HtmxDetails

from generations import catalog, credits, health, lifecycle, tasks, usage, webhooks
from generations.forms import GenerateForm
from generations.models import UNFINISHED, Generation

logger = logging.getLogger(__name__)


class MemberRequest(HttpRequest):
    """A request that passed ``login_required`` and the htmx middleware."""

    htmx: HtmxDetails
    user: User


PAGE_SIZE = 24
MAX_REFRESH_IDS = 100


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


def _history(request: MemberRequest) -> dict[str, object]:
    mine = request.GET.get("who") == "mine"
    rows = visible_generations()
    if mine:
        rows = rows.filter(user_id=request.user.pk)
    before = row_id(request.GET.get("before", ""))
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows.order_by("-pk")[: PAGE_SIZE + 1])
    return {
        "generations": page[:PAGE_SIZE],
        "next_before": page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None,
        "who": "mine" if mine else "everyone",
        "deep": before is not None,
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


def _form_context(form: GenerateForm) -> dict[str, object]:
    """What the form shows: only what workers last learned from Rivya (no request asks it)."""
    models = list(form.models.values())
    cost = _chosen_cost(form)
    return {
        "form": form,
        "models": models,
        "unavailable_models": catalog.unoffered_models(),
        "cost": cost,
        **_balance_context(cost),
        "prompt_max": max((m.max_prompt_length or 0 for m in models), default=5000) or 5000,
    }


def _new_form(data: dict[str, str] | None = None) -> GenerateForm:
    initial = {k: v for k, v in (data or {}).items() if k != "form_token"}
    return GenerateForm(initial=initial, models=catalog.available_models())


@login_required
@require_GET
def home(request: MemberRequest) -> HttpResponse:
    history = _history(request)
    if request.htmx and request.htmx.target == "history":
        return render(request, "generations/home.html#history", history)
    context = {**_form_context(_new_form()), **history}
    return render(request, "generations/home.html", context)


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
    form_context = _form_context(_new_form(kept))
    context = {**form_context, "generation": generation, "oob_form": True}
    return render(request, "generations/home.html#created", context)


def _form_errors(request: MemberRequest, form: GenerateForm) -> HttpResponse:
    if request.htmx:
        context = _form_context(form)
        response = render(request, "generations/home.html#generate-form", context)
        return reswap(retarget(response, "#generate-form"), "outerHTML")
    context = {**_form_context(form), **_history(request)}
    return render(request, "generations/home.html", context, status=400)


@login_required
@require_GET
def cards(request: MemberRequest) -> HttpResponse:
    """Every requested card in one response (out-of-band swaps), from one query, and the Rivya
    banner (out of band too), so it comes and goes by itself while a page waits."""
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
    models = catalog.kept_models()
    context = {
        "period": period,
        "report": usage.report(period),
        **_balance_context(0),
        "rivya": health.health(),
        "models_at": models.at if models else None,
        "problems": usage.recent_admin_problems(since=timezone.now() - timedelta(days=1)),
        "monthly_budget": settings.DEFAULT_MONTHLY_BUDGET,
    }
    return render(request, "generations/usage.html", context)


@csrf_exempt  # Rivya cannot send our CSRF token; the signature authenticates the request
@require_POST
def rivya_webhook(request: HttpRequest) -> HttpResponse:
    return webhooks.receive(request)
