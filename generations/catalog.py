"""Which Imagen 4 models the form offers, and how each one wants its params.

The list comes from ``GET /api/v1/models`` (cached for a few minutes). When the API cannot be
reached, the figures documented on the model pages stand in, so the form still works.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.core.cache import cache

from generations.rivya import ModelInfo, ModelParam, RivyaError, get_client

logger = logging.getLogger(__name__)

FAMILY_PREFIX = "google-imagen4"
DEFAULT_MODEL = "google-imagen4"
CACHE_KEY = "rivya:imagen-models"
CACHE_SECONDS = 300
LAST_SEEN_KEY = "rivya:imagen-models:last-seen"
FALLBACK_CACHE_SECONDS = 30
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "3:4", "4:3")


def _documented(model_id: str, name: str, credits: int, default_ratio: str, seed: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        display_name=name,
        base_credits=credits,
        max_prompt_length=5000,
        available=True,
        params=(
            ModelParam("aspect_ratio", "select", default_ratio, ASPECT_RATIOS),
            ModelParam("negative_prompt", "text"),
            ModelParam("seed", seed),
        ),
    )


# From the model pages (rivya-api-v1.md, "Model parameters"): note -fast defaults to 16:9 and
# takes its seed as a number, the other two as text.
DOCUMENTED_MODELS = (
    _documented("google-imagen4", "Imagen 4", 8, "1:1", "text"),
    _documented("google-imagen4-fast", "Imagen 4 Fast", 4, "16:9", "number"),
    _documented("google-imagen4-ultra", "Imagen 4 Ultra", 12, "1:1", "text"),
)


def _fetch_family() -> list[ModelInfo]:
    models = [m for m in get_client().list_models() if m.id.startswith(FAMILY_PREFIX)]
    order = {m.id: i for i, m in enumerate(DOCUMENTED_MODELS)}
    return sorted(models, key=lambda m: (order.get(m.id, len(order)), m.id))


def imagen_models(*, fetch: bool = True) -> list[ModelInfo]:
    """Every Imagen 4 model Rivya lists, available or not (the form says which are not).

    With ``fetch=False`` (a POST, which must not wait on Rivya) an expired list is not
    reloaded: the last list seen stands in, or the documented one."""
    models: list[ModelInfo] | None = cache.get(CACHE_KEY)
    if models is not None:
        return models
    if not fetch:
        return cache.get(LAST_SEEN_KEY) or list(DOCUMENTED_MODELS)
    try:
        models = _fetch_family()
    except RivyaError as exc:
        logger.warning("Could not load the model list from Rivya (%s); using the docs'", exc.code)
        # Remembered briefly, so a Rivya outage does not cost every page a failed call.
        models = cache.get(LAST_SEEN_KEY) or list(DOCUMENTED_MODELS)
        cache.set(CACHE_KEY, models, FALLBACK_CACHE_SECONDS)
        return models
    cache.set(CACHE_KEY, models, CACHE_SECONDS)
    cache.set(LAST_SEEN_KEY, models, None)
    return models


def available_models(*, fetch: bool = True) -> list[ModelInfo]:
    return [m for m in imagen_models(fetch=fetch) if m.available]


def unoffered_models(*, fetch: bool = True) -> list[ModelInfo]:
    """Imagen 4 models the form cannot offer now: listed as not available, or documented but
    gone from Rivya's list (Google is retiring the Imagen 4 endpoints)."""
    listed = imagen_models(fetch=fetch)
    listed_ids = {m.id for m in listed}
    gone = [replace(m, available=False) for m in DOCUMENTED_MODELS if m.id not in listed_ids]
    return [m for m in listed if not m.available] + gone


def find_model(model_id: str) -> ModelInfo | None:
    return next((m for m in imagen_models() if m.id == model_id), None)


def forget_models() -> None:
    cache.delete(CACHE_KEY)


def aspect_ratios(model: ModelInfo) -> tuple[str, ...]:
    param = model.param("aspect_ratio")
    return param.options if param and param.options else ASPECT_RATIOS


def default_aspect_ratio(model: ModelInfo) -> str:
    param = model.param("aspect_ratio")
    return str(param.default) if param and param.default else "1:1"


def build_params(
    model: ModelInfo, *, aspect_ratio: str, negative_prompt: str, seed: int | None
) -> dict[str, Any]:
    """The ``params`` object as this model takes it; empty optional values are left out."""
    params: dict[str, Any] = {"aspect_ratio": aspect_ratio or default_aspect_ratio(model)}
    if negative_prompt and model.param("negative_prompt"):
        params["negative_prompt"] = negative_prompt
    seed_param = model.param("seed")
    if seed is not None and seed_param:
        params["seed"] = seed if seed_param.type == "number" else str(seed)
    return params
