"""The simulator's API: catalog, auth, validation, credits, idempotency, lifecycle, state."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rivya_sim import Simulator
from tests.simulator.support import API_KEY, get, post, wait_until_finished
from tests.support import wait_for

IMAGEN_RATIOS = ["1:1", "16:9", "9:16", "3:4", "4:3"]


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    assert error["requestId"].startswith("req_")
    return error


# Catalog ----------------------------------------------------------------------------------------


def test_it_lists_the_five_models_without_a_key(sim):
    response = get(f"{sim.base_url}/api/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert set(models) == {
        "google-imagen4", "google-imagen4-fast", "google-imagen4-ultra", "z-image", "4o-image",
    }  # fmt: skip
    assert {m: models[m]["base_credits"] for m in models} == {
        "google-imagen4": 8, "google-imagen4-fast": 4, "google-imagen4-ultra": 12,
        "z-image": 1, "4o-image": 3,
    }  # fmt: skip
    assert all(m["api_status"] == "available" for m in models.values())


def test_it_describes_every_field_of_the_documented_example(sim):
    z_image = get(f"{sim.base_url}/api/v1/models").json()["data"][3]
    assert z_image == {
        "id": "z-image",
        "display_name": "Z-Image",
        "category": "image",
        "runtime": "async_task",
        "base_credits": 1,
        "billing_type": "FIXED",
        "supported_modes": ["text-to-image"],
        "max_prompt_length": 1000,
        "reference_media": None,
        "params": [
            {
                "key": "aspect_ratio",
                "type": "select",
                "required": False,
                "default": "1:1",
                "options": ["1:1", "4:3", "3:4", "16:9", "9:16"],
            }
        ],
        "api_status": "available",
        "api_input_status": "available_text",
        "supported_api_inputs": ["text"],
        "requires_files_api": False,
        "requires_upload_for_modes": [],
        "url_input_supported": False,
        "file_kinds": [],
        "chat_capabilities": None,
        "notices": [],
    }


def test_it_describes_the_params_of_each_imagen_model(sim):
    models = {m["id"]: m for m in get(f"{sim.base_url}/api/v1/models").json()["data"]}
    imagen, fast = models["google-imagen4"]["params"], models["google-imagen4-fast"]["params"]
    assert imagen[0] == {
        "key": "aspect_ratio", "type": "select", "required": False, "default": "1:1",
        "options": IMAGEN_RATIOS,
    }  # fmt: skip
    assert imagen[1:] == [
        {"key": "negative_prompt", "type": "text", "required": False},
        {"key": "seed", "type": "text", "required": False},
    ]
    assert fast[0]["default"] == "16:9"
    assert fast[2] == {"key": "seed", "type": "number", "required": False, "min": 0}
    assert models["google-imagen4-ultra"]["params"][2]["type"] == "text"
    assert models["4o-image"]["params"][0]["key"] == "size"
    assert models["4o-image"]["params"][0]["options"] == ["1:1", "3:2", "2:3"]


def test_it_marks_unavailable_models_and_hides_removed_ones(sim):
    sim.faults.unavailable_models = {"google-imagen4-ultra"}
    sim.faults.removed_models = {"z-image"}
    models = {m["id"]: m for m in get(f"{sim.base_url}/api/v1/models").json()["data"]}
    assert "z-image" not in models
    assert models["google-imagen4-ultra"]["api_status"] == "coming_soon"


def test_it_serves_a_small_openapi_document(sim):
    document = get(f"{sim.base_url}/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/generations/{taskId}" in document["paths"]
    assert document["servers"] == [{"url": sim.base_url}]


# Auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "api_key_missing"),
        ({"Authorization": "Basic abc"}, "api_key_missing"),
        ({"Authorization": "Bearer"}, "api_key_missing"),
        ({"Authorization": "Bearer rvya_sk_wrong"}, "api_key_invalid"),
    ],
)
def test_it_refuses_requests_without_the_right_key(sim, headers, code):
    response = get(f"{sim.base_url}/api/v1/credits", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == code


def test_it_refuses_a_revoked_or_expired_key(sim, client):
    sim.faults.revoked_keys = {API_KEY}
    assert error_of(client.get("/api/v1/credits"))["code"] == "api_key_revoked"
    sim.faults.revoked_keys = set()
    sim.faults.expired_keys = {API_KEY}
    assert error_of(client.get("/api/v1/credits"))["code"] == "api_key_expired"


def test_it_refuses_a_key_without_the_scope(sim, client, create):
    sim.faults.scope_denied = True
    response = create()
    assert response.status_code == 403
    assert error_of(response)["code"] == "api_scope_denied"
    assert "generations:create" in error_of(response)["message"]
    assert sim.state.creates_total == 0


def test_it_answers_404_and_405_in_the_envelope(client):
    assert error_of(client.get("/api/v1/nothing"))["code"] == "not_found"
    response = client.delete("/api/v1/generations")
    assert response.status_code == 405


# Validation -------------------------------------------------------------------------------------

TOO_LONG = "x" * 5001


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"prompt": "no model"}, "model is required"),
        ({"model": "dall-e", "prompt": "p"}, "is not available"),
        ({"model": 7, "prompt": "p"}, "model must be a string"),
        ({"model": "google-imagen4"}, "prompt is required"),
        ({"model": "google-imagen4", "prompt": "  "}, "prompt must not be empty"),
        ({"model": "google-imagen4", "prompt": 12}, "prompt must be a string"),
        ({"model": "google-imagen4", "prompt": TOO_LONG}, "at most 5000"),
        ({"model": "z-image", "prompt": "x" * 1001}, "at most 1000"),
        ({"model": "google-imagen4", "prompt": "p", "params": []}, "params must be an object"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"style": "x"}}, "params.style"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"aspect_ratio": "2:1"}}, "1:1"),
        ({"model": "4o-image", "prompt": "p", "params": {"aspect_ratio": "1:1"}}, "params.aspect"),
        ({"model": "4o-image", "prompt": "p", "params": {"size": "16:9"}}, "params.size"),
        ({"model": "z-image", "prompt": "p", "params": {"seed": "1"}}, "params.seed"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"seed": 42}}, "must be a string"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"seed": "-1"}}, "non-negative"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"seed": "4.2"}}, "non-negative"),
        ({"model": "google-imagen4-fast", "prompt": "p", "params": {"seed": -1}}, "non-negative"),
        ({"model": "google-imagen4-fast", "prompt": "p", "params": {"seed": "1"}}, "JSON number"),
        ({"model": "google-imagen4-fast", "prompt": "p", "params": {"seed": 1.5}}, "params.seed"),
        ({"model": "google-imagen4", "prompt": "p", "params": {"negative_prompt": 1}}, "negative"),
        ({"model": "google-imagen4", "prompt": "p", "client_request_id": "c" * 129}, "128"),
        ({"model": "google-imagen4", "prompt": "p", "files": []}, "Unknown field 'files'"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_it_refuses_invalid_bodies_naming_the_field(sim, client, body, fragment):
    response = client.post("/api/v1/generations", json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert fragment in error["message"]
    assert sim.state.creates_total == 0
    assert sim.state.credits_current == 100_000


def test_it_refuses_a_body_that_is_not_json(client):
    response = client.post("/api/v1/generations", content=b"{nope")
    assert error_of(response)["code"] == "validation_failed"
    assert "not valid JSON" in error_of(response)["message"]


def test_it_refuses_unavailable_and_removed_models(sim, create):
    sim.faults.unavailable_models = {"google-imagen4"}
    assert "not available" in error_of(create())["message"]
    sim.faults.unavailable_models = set()
    sim.faults.removed_models = {"google-imagen4"}
    assert "not available" in error_of(create())["message"]


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("google-imagen4", {"aspect_ratio": "16:9", "negative_prompt": "people", "seed": "42"}),
        ("google-imagen4", {"seed": ""}),
        ("google-imagen4", {"seed": None, "aspect_ratio": None}),
        ("google-imagen4-fast", {"seed": 0}),
        ("google-imagen4-ultra", {"seed": "7"}),
        ("z-image", {"aspect_ratio": "4:3"}),
        ("4o-image", {"size": "3:2"}),
    ],
)
def test_it_accepts_valid_params(create, model, params):
    response = create(model=model, params=params, client_request_id="order-1")
    assert response.status_code == 200, response.text


# Create, credits ---------------------------------------------------------------------------------


def test_it_creates_a_queued_task_and_reserves_its_credits(sim, client, create):
    response = create(model="google-imagen4-fast")
    task = response.json()
    assert response.status_code == 200
    assert task["id"].startswith("task_")
    assert len(task["id"]) == 5 + 24
    assert task["status"] == "queued"
    assert (task["reserved_credits"], task["final_credits"]) == (4, 0)
    assert task["result"] is None
    assert task["error"] is None
    assert task["created_at"].endswith("Z")
    assert len(task["created_at"]) == 24
    assert client.get("/api/v1/credits").json() == {"current_credits": 100_000 - 4}
    assert sim.state.credits_reserved_open == 4


@pytest.mark.parametrize("status", [201, 202])
def test_it_answers_the_chosen_create_status(status):
    with Simulator(api_key=API_KEY, delay=0.2, create_status=status).start() as sim:
        response = post(
            f"{sim.base_url}/api/v1/generations",
            json={"model": "z-image", "prompt": "p"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
    assert response.status_code == status


def test_it_refuses_with_402_when_credits_are_short(sim, create):
    sim.state.set_credits(7)
    response = create()
    assert response.status_code == 402
    assert error_of(response)["code"] == "insufficient_credits"
    assert "needs 8 credits" in error_of(response)["message"]
    assert sim.state.credits_current == 7
    assert sim.state.creates_total == 0


def test_it_settles_a_success_at_the_reserved_amount(sim, client, create):
    task = wait_until_finished(client, create().json()["id"])
    assert task["status"] == "succeeded"
    assert task["final_credits"] == task["reserved_credits"] == 8
    assert sim.state.credits_current == 100_000 - 8
    assert (sim.state.credits_charged, sim.state.credits_reserved_open) == (8, 0)


def test_it_refunds_a_failed_task(sim, client, create):
    task = wait_until_finished(client, create(prompt="Nope [sim:fail]").json()["id"])
    assert task["status"] == "failed"
    assert task["final_credits"] == 0
    assert task["result"] is None
    assert task["error"] == {"code": "generation_failed", "message": "The generation failed."}
    assert sim.state.credits_current == 100_000
    assert (sim.state.credits_charged, sim.state.credits_reserved_open) == (0, 0)


# Idempotency ------------------------------------------------------------------------------------


def test_it_replays_the_same_key_and_body_without_a_second_charge(sim, create):
    first = create(key="gen-1", client_request_id="gen-1")
    second = create(key="gen-1", client_request_id="gen-1")
    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert sim.state.creates_total == 1
    assert sim.state.create_requests == 2
    assert sim.state.credits_current == 100_000 - 8
    assert [t.id for t in sim.state.tasks_by_key("gen-1")] == [first.json()["id"]]


def test_it_refuses_the_same_key_with_another_body(sim, create):
    create(key="gen-1")
    response = create(key="gen-1", prompt="Something else")
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_conflict"
    assert sim.state.creates_total == 1


def test_it_compares_bodies_by_their_json_not_their_bytes(sim, client):
    headers = {"Idempotency-Key": "gen-2"}
    one = b'{"model":"z-image","prompt":"p","params":{"aspect_ratio":"1:1"}}'
    two = b'{ "params": {"aspect_ratio": "1:1"}, "prompt": "p", "model": "z-image" }'
    first = client.post("/api/v1/generations", content=one, headers=headers)
    second = client.post("/api/v1/generations", content=two, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert sim.state.creates_total == 1


def test_it_replays_even_when_the_balance_has_run_out(sim, create):
    first = create(key="gen-3")
    sim.state.set_credits(0)
    assert create(key="gen-3").json()["id"] == first.json()["id"]


def test_it_does_not_remember_a_refused_create(sim, create):
    sim.state.set_credits(0)
    assert create(key="gen-4").status_code == 402
    sim.state.set_credits(100)
    assert create(key="gen-4").status_code == 200


def test_it_creates_one_task_for_twenty_concurrent_duplicates(sim):
    def submit(_: int) -> str:
        response = post(
            f"{sim.base_url}/api/v1/generations",
            json={"model": "google-imagen4", "prompt": "Same"},
            headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "double-click"},
        )
        task_id: str = response.json()["id"]
        return task_id

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = set(pool.map(submit, range(20)))
    assert len(ids) == 1
    assert sim.state.creates_total == 1
    assert sim.state.create_requests == 20
    assert sim.state.credits_current == 100_000 - 8


# Lifecycle --------------------------------------------------------------------------------------


def test_it_moves_a_task_through_its_statuses_on_time(sim, client, create):
    sim.delay = 0.4
    task = create().json()
    seen = {task["status"]: task["updated_at"]}
    while "succeeded" not in seen:
        current = client.get(f"/api/v1/generations/{task['id']}").json()
        seen.setdefault(current["status"], current["updated_at"])
        time.sleep(0.01)
    assert list(seen) == ["queued", "processing", "succeeded"]
    assert len(set(seen.values())) == 3
    record = sim.state.task(task["id"])
    assert record is not None
    assert record.succeeded_at is not None
    assert 0.1 <= record.processing_at - record.created_at < 0.25  # never early, rarely late
    assert 0.4 <= record.succeeded_at - record.created_at < 0.55
    assert record.finished_at == record.succeeded_at


def test_it_uses_the_delay_marker_then_the_delay_fault(sim, client, create):
    sim.delay = 30
    sim.faults.delay = 0.1
    by_fault = create(prompt="p1").json()["id"]
    by_marker = create(prompt="p2 [sim:delay=0.05]").json()["id"]
    assert wait_until_finished(client, by_fault)["status"] == "succeeded"
    assert wait_until_finished(client, by_marker)["status"] == "succeeded"
    assert sim.state.task(by_marker).delay == 0.05


def test_it_gives_result_urls_on_its_own_origin(sim, client, create):
    task = wait_until_finished(client, create().json()["id"])
    url = f"{sim.base_url}/results/{task['id']}/1.png"
    assert task["result"] == {"primary_url": url, "urls": [url]}


def test_it_answers_404_for_an_unknown_task(client):
    response = client.get("/api/v1/generations/task_000000000000000000000000")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_keeps_a_never_task_processing_until_finished_by_hand(sim, client, create):
    task_id = create(prompt="Slow [sim:never]").json()["id"]
    wait_for(lambda: sim.state.task(task_id).status == "processing")
    time.sleep(0.3)
    assert client.get(f"/api/v1/generations/{task_id}").json()["status"] == "processing"
    response = client.post(f"/_sim/tasks/{task_id}/finish", json={"status": "succeeded"})
    assert response.json()["status"] == "succeeded"
    assert client.post(f"/_sim/tasks/{task_id}/finish", json={}).status_code == 409
    assert client.post("/_sim/tasks/task_nope/finish", json={}).status_code == 404


def test_it_can_fail_a_task_by_hand(sim, create):
    task_id = create().json()["id"]
    assert sim.finish_task(task_id, "failed")["error"]["code"] == "generation_failed"
    assert sim.state.credits_current == 100_000


# Connections and state --------------------------------------------------------------------------


def test_it_serves_twenty_requests_on_one_connection(sim, client):
    for _ in range(20):
        assert client.get("/api/v1/credits").status_code == 200
    assert sim.state.connections_opened == 1


def test_it_counts_each_new_connection(sim):
    for _ in range(3):
        get(f"{sim.base_url}/api/v1/models")
    assert sim.state.connections_opened == 3


def test_it_exposes_the_record_over_http(sim, client, create):
    task_id = create(key="k-1", client_request_id="order-9").json()["id"]
    state = client.get("/_sim/state").json()
    record = state["tasks"][task_id]
    assert record["idempotency_key"] == "k-1"
    assert record["client_request_id"] == "order-9"
    assert record["body"]["model"] == "google-imagen4"
    assert isinstance(record["created_at"], float)
    assert record["object"]["id"] == task_id
    assert (state["creates_total"], state["create_requests"]) == (1, 1)
    assert state["credits_current"] == 100_000 - 8
    assert state["connections_opened"] == 1
    assert state["faults"]["result_mode"] == "ok"


def test_it_exposes_tasks_by_attribute_and_by_key(sim, create):
    task_id = create(key="k-2").json()["id"]
    task = sim.state.tasks[task_id]
    assert task.idempotency_key == task["idempotency_key"] == "k-2"
    assert task["body"]["prompt"] == "A lighthouse at dawn"


def test_it_resets_over_http(sim, client, create):
    create()
    client.post("/_sim/faults", json={"result_mode": "fail"})
    assert client.post("/_sim/reset").json() == {"reset": True}
    assert sim.state.tasks == {}
    assert sim.state.creates_total == 0
    assert sim.state.credits_current == 100_000
    assert sim.faults.result_mode == "ok"


def test_it_sets_credits_and_config_over_http(sim, client):
    assert client.post("/_sim/credits", json={"current_credits": 5}).status_code == 200
    assert client.get("/api/v1/credits").json() == {"current_credits": 5}
    assert client.post("/_sim/credits", json={"current_credits": "x"}).status_code == 400
    client.post("/_sim/config", json={"delay": 0.05, "create_status": 202})
    assert (sim.delay, sim.create_status) == (0.05, 202)
