"""Which Imagen 4 models the form offers, and how each one wants its params.

The list comes from ``GET /api/v1/models``, asked by beat (and by a worker as it starts) and kept
in ``health`` (a database row and the cache): a page only reads what is kept and never asks
Rivya. Until a list has been kept, the figures documented on the model pages stand in, so the
form works from the first minute.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Any

from generations import health
from generations.rivya import ModelInfo, ModelParam, RivyaError, get_client

logger = logging.getLogger(__name__)

FAMILY_PREFIX = "google-imagen4"
DEFAULT_MODEL = "google-imagen4"
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


def refresh_models() -> bool:
    """Ask Rivya for the model list and keep it. On an error the last good copy stays (the
    client has noted the failure). Workers and beat only: a page never calls this."""
    try:
        models = _fetch_family()
    except RivyaError as exc:
        logger.warning("Could not load the model list from Rivya (%s); keeping the last", exc.code)
        return False
    health.keep(health.MODELS, [asdict(m) for m in models])
    return True


def _model_from(data: dict[str, Any]) -> ModelInfo:
    params = tuple(
        ModelParam(p["key"], p["type"], p.get("default"), tuple(p.get("options") or ()))
        for p in data["params"]
    )
    return ModelInfo(
        id=data["id"],
        display_name=data["display_name"],
        base_credits=data["base_credits"],
        max_prompt_length=data["max_prompt_length"],
        available=data["available"],
        params=params,
    )


def kept_models() -> health.Kept | None:
    """The list as last kept (``value`` is a list of ModelInfo), or None if none was."""
    found = health.kept(health.MODELS)
    if found is None:
        return None
    try:
        return health.Kept([_model_from(m) for m in found.value], found.at)
    except (KeyError, TypeError):  # a row written by another version of this code
        logger.warning("The kept model list cannot be read; using the documented one")
        return None


def imagen_models() -> list[ModelInfo]:
    """Every Imagen 4 model Rivya listed, available or not (the form says which are not), as
    last kept; the documented ones until a list has been kept. Never asks Rivya."""
    found = kept_models()
    return list(found.value) if found is not None else list(DOCUMENTED_MODELS)


def available_models() -> list[ModelInfo]:
    return [m for m in imagen_models() if m.available]


def unoffered_models() -> list[ModelInfo]:
    """Imagen 4 models the form cannot offer now: listed as not available, or documented but
    gone from Rivya's list (Google is retiring the Imagen 4 endpoints)."""
    listed = imagen_models()
    listed_ids = {m.id for m in listed}
    gone = [replace(m, available=False) for m in DOCUMENTED_MODELS if m.id not in listed_ids]
    return [m for m in listed if not m.available] + gone


def find_model(model_id: str) -> ModelInfo | None:
    return next((m for m in imagen_models() if m.id == model_id), None)


def display_name(model_id: str) -> str:
    """What the studio calls a model ("Imagen 4 Fast"): its name in the kept list, else the
    documented one, else its id (a model Rivya no longer lists, under a name we never knew)."""
    known = find_model(model_id) or next((m for m in DOCUMENTED_MODELS if m.id == model_id), None)
    return known.display_name if known else model_id


def forget_models() -> None:
    """Rivya refused a model the kept list offers: ask for the list again now. Called by the
    lifecycle in a worker, never by a page."""
    refresh_models()


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
