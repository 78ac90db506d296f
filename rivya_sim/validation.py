"""Validation of ``POST /api/v1/generations`` bodies (each refusal is ``validation_failed``, 400).

Assumptions where the contract is silent (its Unknowns 6, 9, 12 and 13):

- The body is parsed as JSON whatever its ``Content-Type``; it must be an object.
- Top-level keys other than ``model``, ``prompt``, ``params`` and ``client_request_id`` are
  refused, and so are unknown keys inside ``params`` (strict, to catch client typos).
- An unknown, removed or unavailable model is ``validation_failed`` ("is not available").
- ``prompt`` is required by all five models; a missing, empty or whitespace-only prompt is refused.
  Length is counted in Python characters (code points).
- A parameter sent as ``null`` counts as absent (its default applies); so does an empty-string
  seed, which means "random".
- A ``text`` seed (google-imagen4, -ultra) must be a string of ASCII digits (a non-negative
  integer written as text, e.g. ``"42"``); a JSON number is refused with a message saying it must
  be a string. A ``number`` seed (google-imagen4-fast) must be a JSON integer >= 0; strings,
  floats and booleans are refused. No upper bound is enforced.
- ``negative_prompt`` must be a string; no length limit is enforced.
- ``client_request_id`` must be a string of at most 128 characters (the Files API limit).
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from rivya_sim.catalog import MODELS, ModelSpec

TOP_LEVEL_KEYS = ("model", "prompt", "params", "client_request_id")
CLIENT_REQUEST_ID_MAX = 128
_DIGITS = re.compile(r"[0-9]+")


class ValidationFailed(Exception):
    """The request cannot be accepted; ``str(exc)`` is the message for the client."""


@dataclass(frozen=True)
class GenerationRequest:
    """A create request that passed validation, with defaults filled in."""

    spec: ModelSpec
    prompt: str
    params: dict[str, Any]
    aspect: str
    seed: str | None
    client_request_id: str | None
    body: dict[str, Any]


def parse_generation(raw: bytes, unavailable: Container[str]) -> GenerationRequest:
    """Validate a raw body; ``unavailable`` holds ids that must be refused."""
    body = _parse_body(raw)
    spec = _check_model(body.get("model"), unavailable)
    prompt = _check_prompt(body.get("prompt"), spec)
    params = _check_params(body.get("params", {}), spec)
    aspect = params.get(spec.size_key) or spec.default_size
    return GenerationRequest(
        spec=spec,
        prompt=prompt,
        params=params,
        aspect=aspect,
        seed=_normalised_seed(params.get("seed")),
        client_request_id=_check_client_request_id(body.get("client_request_id")),
        body=body,
    )


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"The request body is not valid JSON ({exc}).") from exc
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ValidationFailed(
            f"Unknown field {unknown[0]!r}; accepted fields: {', '.join(TOP_LEVEL_KEYS)}."
        )
    return body


def _check_model(model: Any, unavailable: Container[str]) -> ModelSpec:
    if model is None:
        raise ValidationFailed("model is required.")
    if not isinstance(model, str):
        raise ValidationFailed("model must be a string.")
    if model not in MODELS or model in unavailable:
        raise ValidationFailed(f"model {_short(model)} is not available through the API.")
    return MODELS[model]


def _check_prompt(prompt: Any, spec: ModelSpec) -> str:
    if prompt is None:
        raise ValidationFailed(f"prompt is required for {spec.id}.")
    if not isinstance(prompt, str):
        raise ValidationFailed("prompt must be a string.")
    if not prompt.strip():
        raise ValidationFailed("prompt must not be empty.")
    limit = spec.max_prompt_length
    if limit is not None and len(prompt) > limit:
        raise ValidationFailed(
            f"prompt is {len(prompt)} characters long; {spec.id} accepts at most {limit}."
        )
    return prompt


def _check_params(params: Any, spec: ModelSpec) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ValidationFailed("params must be an object.")
    for key in params:
        if key not in spec.param_keys:
            raise ValidationFailed(
                f"params.{key} is not accepted by {spec.id} "
                f"(accepted: {', '.join(spec.param_keys)})."
            )
    present = {key: value for key, value in params.items() if value is not None}
    _check_size(present.get(spec.size_key), spec)
    _check_negative_prompt(present.get("negative_prompt"))
    _check_seed(present.get("seed"), spec)
    return present


def _check_size(value: Any, spec: ModelSpec) -> None:
    if value is not None and value not in spec.size_options:
        raise ValidationFailed(
            f"params.{spec.size_key} must be one of {', '.join(spec.size_options)} "
            f"(got {_short(value)})."
        )


def _check_negative_prompt(value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed("params.negative_prompt must be a string.")


def _check_seed(seed: Any, spec: ModelSpec) -> None:
    if seed is None:
        return
    if spec.seed_type == "text":
        _check_text_seed(seed, spec)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationFailed(
            f"params.seed must be a non-negative integer (a JSON number) for {spec.id} "
            f"(got {_short(seed)})."
        )


def _check_text_seed(seed: Any, spec: ModelSpec) -> None:
    if not isinstance(seed, str):
        raise ValidationFailed(
            f"params.seed must be a string for {spec.id}: a non-negative integer written as "
            f'text, e.g. "42" (got {_short(seed)}).'
        )
    if seed and not (seed.isascii() and _DIGITS.fullmatch(seed)):
        raise ValidationFailed(
            f'params.seed must be a non-negative integer written as text, e.g. "42" '
            f"(got {_short(seed)})."
        )


def _normalised_seed(seed: Any) -> str | None:
    """The seed as text, or None for "random"."""
    if seed is None or seed == "":
        return None
    return str(seed)


def _check_client_request_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("client_request_id must be a string.")
    if len(value) > CLIENT_REQUEST_ID_MAX:
        raise ValidationFailed(
            f"client_request_id must be at most {CLIENT_REQUEST_ID_MAX} characters "
            f"(got {len(value)})."
        )
    return value
