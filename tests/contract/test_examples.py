"""Every JSON example of the API reference (docs/rivya-api-v1.md, a copy of the shared contract)
replayed through the client: the task parser, the model parser, the error parser, the request
the client builds. The blocks are read from the document itself, so an example added there and
not handled here fails ``test_every_json_block_of_the_reference_is_replayed``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from generations import catalog, webhooks
from generations.rivya import Answer, parse_error, parse_model, parse_task
from tests.contract.support import answering, mock_client

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "rivya-api-v1.md"
BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def json_blocks() -> list[Any]:
    return [json.loads(block) for block in BLOCK.findall(REFERENCE.read_text())]


def kind_of(example: dict[str, Any]) -> str:
    if example.get("object") == "list":
        return "model list"
    if example.get("object") == "webhook_endpoint":
        return "webhook endpoint"
    if set(example) == {"error"}:
        return "error envelope"
    if "status" in example and "id" in example:
        return "task"
    if "model" in example and "params" in example:
        return "create request"
    return "unknown"


def example(kind: str) -> dict[str, Any]:
    return next(block for block in json_blocks() if kind_of(block) == kind)


# The webhook endpoint object (section 11) is the answer of the webhook management API, which
# the app does not call: an admin registers the endpoint at rivya.ai and copies its one-time
# secret into RIVYA_WEBHOOK_SECRET (docs/rivya.md). It is the one block not replayed.
NOT_CONSUMED = ["webhook endpoint"]


def test_every_json_block_of_the_reference_is_replayed():
    kinds = sorted(kind_of(block) for block in json_blocks())
    replayed = ["create request", "task", "error envelope", "model list"]
    assert kinds == sorted(replayed + NOT_CONSUMED)


def test_it_builds_the_documented_create_request():
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "task_1", "status": "queued"})

    documented = example("create request")
    model = catalog.DOCUMENTED_MODELS[0]
    params = catalog.build_params(model, aspect_ratio="1:1", negative_prompt="...", seed=123)
    mock_client(handle).create_generation(
        model=model.id, prompt="...", params=params, idempotency_key="order-1"
    )
    assert json.loads(seen[0].content) == documented
    assert seen[0].headers["idempotency-key"] == "order-1"


def test_it_reads_the_documented_succeeded_task():
    task = parse_task(example("task"))
    assert (task.id, task.status, task.model) == ("task_public_id", "succeeded", "z-image")
    assert (task.reserved_credits, task.final_credits) == (1, 1)
    assert task.urls == ["https://media.example/result.png"]
    assert task.is_finished
    assert (task.error_code, task.error_message) == ("", "")


def test_it_reads_the_documented_failed_task():
    failed = {
        **example("task"),
        "status": "failed",
        "final_credits": 0,
        "result": None,
        "error": {"code": "generation_failed", "message": "The generation failed."},
    }
    task = parse_task(failed)
    assert (task.status, task.final_credits, task.urls) == ("failed", 0, [])
    assert (task.error_code, task.error_message) == ("generation_failed", "The generation failed.")


def test_it_reads_the_documented_create_answer():
    """Section 3: the task object, queued, nothing charged yet, the model's cost reserved."""
    created = {
        **example("task"),
        "id": "task_google_imagen4_fast_example",
        "model": "google-imagen4-fast",
        "status": "queued",
        "reserved_credits": 4,
        "final_credits": 0,
        "result": None,
        "error": None,
    }
    task = parse_task(created)
    assert (task.status, task.reserved_credits, task.final_credits) == ("queued", 4, 0)
    assert not task.is_finished
    assert task.urls == []


def test_it_reads_the_documented_public_fields_it_does_not_use():
    """Section 4 lists session_id, message and usage too: present, they change nothing."""
    task = parse_task({**example("task"), "session_id": None, "message": "", "usage": {}})
    assert task == parse_task(example("task"))


def test_it_reads_the_documented_error_envelope():
    envelope = example("error envelope")
    error = parse_error(Answer(401, httpx.Headers(), json.dumps(envelope).encode()))
    assert (error.code, error.status, error.retryable) == ("api_key_missing", 401, False)
    assert error.message == "A valid Bearer API key is required."
    assert error.request_id == "req_..."  # camelCase requestId, unlike the rest of the API
    assert "RIVYA_API_KEY" in error.admin_message


def test_it_reads_the_documented_model_list():
    listing = example("model list")
    (model,) = mock_client(answering(200, listing)).list_models()
    assert (model.id, model.display_name, model.base_credits) == ("z-image", "Z-Image", 1)
    assert (model.max_prompt_length, model.available, model.params) == (1000, True, ())


@pytest.mark.parametrize("api_status", ["coming_soon", "studio_only"])
def test_it_reads_a_model_that_is_not_callable_yet(api_status):
    entry = {**example("model list")["data"][0], "api_status": api_status}
    assert parse_model(entry).available is False


def test_it_reads_the_documented_credits():
    assert mock_client(answering(200, {"current_credits": 123})).get_credits() == 123


def test_it_finds_the_task_in_the_documented_webhook_envelope():
    """Section 11: the envelope's start is documented, the key holding the task is not (we
    assume ``data``, docs/rivya.md)."""
    envelope = {
        "id": "evt_1",
        "type": "generation.succeeded",
        "api_version": "2026-05-11",
        "created_at": "2026-05-11T00:00:00.000Z",
        "data": example("task"),
    }
    assert webhooks.task_id_of(envelope) == "task_public_id"
