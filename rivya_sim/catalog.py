"""The model catalog served by ``GET /api/v1/models``, and the OpenAPI document.

Figures come from the model pages quoted in ``rivya-api-v1.md`` section 3. Assumptions where the
contract is silent:

- The ``params`` element shape is undocumented. We serve
  ``{"key", "type", "required", "default"?, "options"?, "min"?}``: ``type`` is ``select``, ``text``
  or ``number``; ``default`` and ``options`` only for selects; ``min`` only where documented.
- 4o-image has no documented prompt limit, so ``max_prompt_length`` is ``null`` and the simulator
  enforces none.
- Every other field copies the documented z-image example (``category`` image, ``runtime``
  async_task, ``billing_type`` FIXED, text-only input, no files, no notices).
- A model switched to "unavailable" is listed with ``api_status: "coming_soon"``; a "removed" model
  is left out of the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SeedType = Literal["text", "number"]

IMAGEN_RATIOS = ("1:1", "16:9", "9:16", "3:4", "4:3")


@dataclass(frozen=True)
class ModelSpec:
    """One public model and the request parameters it takes."""

    id: str
    display_name: str
    base_credits: int
    max_prompt_length: int | None
    default_size: str
    size_key: str = "aspect_ratio"
    size_options: tuple[str, ...] = IMAGEN_RATIOS
    seed_type: SeedType | None = None
    negative_prompt: bool = False

    @property
    def param_keys(self) -> tuple[str, ...]:
        """The keys accepted inside ``params``, in catalog order."""
        keys = [self.size_key]
        if self.negative_prompt:
            keys.append("negative_prompt")
        if self.seed_type:
            keys.append("seed")
        return tuple(keys)

    def params_schema(self) -> list[dict[str, Any]]:
        """The ``params`` list of the catalog entry (element shape assumed, see module doc)."""
        schema: list[dict[str, Any]] = [
            {
                "key": self.size_key,
                "type": "select",
                "required": False,
                "default": self.default_size,
                "options": list(self.size_options),
            }
        ]
        if self.negative_prompt:
            schema.append({"key": "negative_prompt", "type": "text", "required": False})
        if self.seed_type == "number":
            schema.append({"key": "seed", "type": "number", "required": False, "min": 0})
        elif self.seed_type == "text":
            schema.append({"key": "seed", "type": "text", "required": False})
        return schema

    def public(self, api_status: str = "available") -> dict[str, Any]:
        """The catalog entry with every field of the documented example."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "category": "image",
            "runtime": "async_task",
            "base_credits": self.base_credits,
            "billing_type": "FIXED",
            "supported_modes": ["text-to-image"],
            "max_prompt_length": self.max_prompt_length,
            "reference_media": None,
            "params": self.params_schema(),
            "api_status": api_status,
            "api_input_status": "available_text",
            "supported_api_inputs": ["text"],
            "requires_files_api": False,
            "requires_upload_for_modes": [],
            "url_input_supported": False,
            "file_kinds": [],
            "chat_capabilities": None,
            "notices": [],
        }


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="google-imagen4",
            display_name="Google Imagen 4",
            base_credits=8,
            max_prompt_length=5000,
            default_size="1:1",
            seed_type="text",
            negative_prompt=True,
        ),
        ModelSpec(
            id="google-imagen4-fast",
            display_name="Google Imagen 4 Fast",
            base_credits=4,
            max_prompt_length=5000,
            default_size="16:9",
            seed_type="number",
            negative_prompt=True,
        ),
        ModelSpec(
            id="google-imagen4-ultra",
            display_name="Google Imagen 4 Ultra",
            base_credits=12,
            max_prompt_length=5000,
            default_size="1:1",
            seed_type="text",
            negative_prompt=True,
        ),
        ModelSpec(
            id="z-image",
            display_name="Z-Image",
            base_credits=1,
            max_prompt_length=1000,
            default_size="1:1",
            size_options=("1:1", "4:3", "3:4", "16:9", "9:16"),
        ),
        ModelSpec(
            id="4o-image",
            display_name="4o Image",
            base_credits=3,
            max_prompt_length=None,
            size_key="size",
            default_size="1:1",
            size_options=("1:1", "3:2", "2:3"),
        ),
    )
}


def models_listing(unavailable: set[str], removed: set[str]) -> dict[str, Any]:
    """The body of ``GET /api/v1/models`` under the current fault switches."""
    data = [
        spec.public("coming_soon" if spec.id in unavailable else "available")
        for spec in MODELS.values()
        if spec.id not in removed
    ]
    return {"object": "list", "data": data}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json_response(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "requestId"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "requestId": {"type": "string"},
                },
            }
        },
    },
    "GenerationRequest": {
        "type": "object",
        "required": ["model"],
        "properties": {
            "model": {"type": "string"},
            "prompt": {"type": "string"},
            "params": {"type": "object"},
            "client_request_id": {"type": "string", "maxLength": 128},
        },
    },
    "Generation": {
        "type": "object",
        "required": ["id", "status", "model", "reserved_credits", "final_credits"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["queued", "processing", "succeeded", "failed"]},
            "model": {"type": "string"},
            "reserved_credits": {"type": "integer"},
            "final_credits": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "result": {"type": ["object", "null"]},
            "error": {"type": ["object", "null"]},
        },
    },
    "Credits": {
        "type": "object",
        "properties": {"current_credits": {"type": "integer"}},
    },
    "ModelList": {
        "type": "object",
        "properties": {"object": {"const": "list"}, "data": {"type": "array"}},
    },
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """A small OpenAPI 3.1 description of the endpoints the simulator serves."""
    errors = {"400": _error_response("validation_failed"), "401": _error_response("api_key_*")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rivya Public API (local simulator)", "version": "v1"},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/models": {
                "get": {
                    "security": [],
                    "responses": {"200": _json_response("Model catalog", "ModelList")},
                }
            },
            "/api/v1/credits": {
                "get": {"responses": {"200": _json_response("Balance", "Credits"), **errors}}
            },
            "/api/v1/generations": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/GenerationRequest"}
                            }
                        },
                    },
                    "responses": {"200": _json_response("Task", "Generation"), **errors},
                }
            },
            "/api/v1/generations/{taskId}": {
                "get": {
                    "parameters": [
                        {
                            "name": "taskId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json_response("Task", "Generation"), **errors},
                }
            },
            "/api/v1/openapi.json": {
                "get": {"security": [], "responses": {"200": {"description": "This document"}}}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _SCHEMAS,
        },
    }
