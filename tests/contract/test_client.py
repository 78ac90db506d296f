"""The Rivya client alone: against the simulator, and against ``httpx.MockTransport`` only for the
answers the simulator cannot give (a missing field, an unknown code, a dripping body, ...)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from generations import rivya
from generations.errors import ERROR_POLICIES
from generations.rivya import RivyaError, get_client
from tests.conftest import CLOSED_PORT_URL, TEST_API_KEY
from tests.contract.support import answering, mock_client

TASK = {"id": "task_1", "status": "queued", "model": "google-imagen4", "reserved_credits": 8}


@pytest.fixture
def api(sim):
    """The app's own per-process client, pointed at the simulator."""
    return get_client()


def create(api, key: str | None = None, **params):
    return api.create_generation(
        model=params.pop("model", "google-imagen4"),
        prompt=params.pop("prompt", "A lighthouse at dawn"),
        params={"aspect_ratio": "1:1", **params},
        idempotency_key=key or str(uuid.uuid4()),
    )


def refused(call, *args, **kwargs) -> RivyaError:
    with pytest.raises(RivyaError) as caught:
        call(*args, **kwargs)
    return caught.value


def assert_secret_kept(exc: RivyaError) -> None:
    for text in (str(exc), exc.member_message, exc.admin_message, repr(exc.args)):
        assert TEST_API_KEY not in text


# -- Success ------------------------------------------------------------------------------------


def test_it_reads_a_created_task(api, sim):
    task = create(api)
    assert task.id.startswith("task_")
    assert (task.status, task.model, task.reserved_credits, task.final_credits) == (
        "queued",
        "google-imagen4",
        8,
        0,
    )
    assert task.urls == []
    assert sim.state.creates_total == 1


@pytest.mark.parametrize("status", [200, 201, 202])
def test_it_accepts_every_create_status(api, sim, status):
    before = sim.create_status
    sim.create_status = status
    try:
        task = create(api)
    finally:
        sim.create_status = before
    assert sim.state.task(task.id) is not None


def test_it_reads_a_finished_task_with_its_image(api, sim):
    task = create(api)
    sim.finish_task(task.id)
    done = api.get_generation(task.id)
    assert (done.status, done.final_credits) == ("succeeded", 8)
    assert done.urls == [f"{sim.base_url}/results/{task.id}/1.png"]


def test_it_keeps_every_url_primary_first(api, sim):
    task = create(api, prompt="Two moons [sim:multi]")
    sim.finish_task(task.id)
    urls = api.get_generation(task.id).urls
    assert urls == [f"{sim.base_url}/results/{task.id}/{n}.png" for n in (1, 2)]


def test_it_reads_the_credits(api, sim):
    sim.state.set_credits(123)
    assert api.get_credits() == 123


def test_it_reads_the_imagen_models_with_their_params(api, sim):
    models = {m.id: m for m in api.list_models()}
    fast = models["google-imagen4-fast"]
    assert (fast.base_credits, fast.available, fast.max_prompt_length) == (4, True, 5000)
    ratio = fast.param("aspect_ratio")
    assert ratio is not None
    assert ratio.default == "16:9"
    assert ratio.options == ("1:1", "16:9", "9:16", "3:4", "4:3")
    assert fast.param("seed").type == "number"
    assert models["google-imagen4"].param("seed").type == "text"
    assert (models["google-imagen4"].base_credits, models["google-imagen4-ultra"].base_credits) == (
        8,
        12,
    )


def test_it_reports_unavailable_and_leaves_out_removed_models(api, sim):
    sim.faults.unavailable_models = {"google-imagen4-ultra"}
    sim.faults.removed_models = {"google-imagen4-fast"}
    models = {m.id: m for m in api.list_models()}
    assert models["google-imagen4-ultra"].available is False
    assert "google-imagen4-fast" not in models


def test_it_reuses_one_connection_for_every_call(api, sim):
    task = create(api)
    api.get_generation(task.id)
    api.get_credits()
    api.list_models()
    api.get_generation(task.id)
    assert sim.state.connections_opened == 1


def test_it_is_one_client_per_process(sim):
    assert get_client() is get_client()


def test_it_sends_the_key_as_idempotency_key_and_client_request_id(api, sim):
    key = str(uuid.uuid4())
    task = create(api, key=key)
    record = sim.state.task(task.id)
    assert record["idempotency_key"] == key
    assert record["client_request_id"] == key


def test_it_gets_the_same_task_for_the_same_key(api, sim):
    key = str(uuid.uuid4())
    first, second = create(api, key=key), create(api, key=key)
    assert first.id == second.id
    assert sim.state.creates_total == 1
    assert len(sim.state.tasks_by_key(key)) == 1


# -- Errors from the simulator -------------------------------------------------------------------


def test_it_honours_retry_after_in_seconds(api, sim):
    sim.faults.rate_limit(count=1, retry_after=7, on="create")
    exc = refused(create, api)
    assert (exc.code, exc.retryable, exc.retry_after, exc.status) == ("rate_limited", True, 7, 429)
    assert "slow down" in exc.member_message


def test_it_honours_retry_after_as_an_http_date(api, sim):
    sim.faults.rate_limit(count=1, retry_after=30, on="get", retry_after_http_date=True)
    exc = refused(api.get_generation, "task_x")
    assert exc.code == "rate_limited"
    assert exc.retry_after is not None
    assert 27 <= exc.retry_after <= 30


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_it_retries_server_errors(api, sim, status):
    sim.faults.server_error(count=1, status=status, on="create")
    exc = refused(create, api)
    assert (exc.status, exc.retryable) == (status, True)
    assert exc.kind == "server_error"  # the simulator's code, internal_error, is not documented
    assert "server errors" in exc.member_message
    assert "internal_error" in exc.admin_message or "Internal" in exc.admin_message
    assert sim.state.creates_total == 0


def test_it_retries_a_body_that_is_not_json(api, sim):
    sim.faults.non_json(count=1, on="create")
    exc = refused(create, api)
    assert (exc.code, exc.status, exc.retryable) == ("server_error", 502, True)
    assert "not a JSON error" in exc.message


def test_it_retries_when_the_public_api_is_disabled(api, sim):
    sim.faults.public_api_disabled(count=1, on="create")
    exc = refused(create, api)
    assert (exc.code, exc.status, exc.retryable) == ("public_api_disabled", 503, True)
    assert "switched off" in exc.admin_message


def test_it_gives_up_on_a_read_that_takes_too_long(sim, settings):
    settings.RIVYA_READ_TIMEOUT = 0.3
    rivya.reset_client()
    sim.faults.timeout(count=1, seconds=1, on="create")
    exc = refused(create, get_client())
    assert (exc.code, exc.retryable) == ("timeout", True)  # not the drop at 1 s
    assert "too long" in exc.member_message


def test_it_reports_a_dropped_answer_as_retryable(api, sim):
    sim.faults.drop_after_create(count=1)
    key = str(uuid.uuid4())
    exc = refused(create, api, key=key)
    assert (exc.code, exc.retryable) == ("connection_error", True)
    assert len(sim.state.tasks_by_key(key)) == 1  # it did reach the server: retry with this key


def test_it_reports_a_server_it_cannot_reach(sim, settings):
    settings.RIVYA_BASE_URL = CLOSED_PORT_URL
    rivya.reset_client()
    exc = refused(get_client().get_credits)
    assert (exc.code, exc.retryable) == ("connection_error", True)
    assert "RIVYA_BASE_URL" in exc.admin_message


def test_it_does_not_retry_invalid_settings(api, sim):
    exc = refused(create, api, aspect_ratio="2:1")
    assert (exc.code, exc.status, exc.retryable) == ("validation_failed", 400, False)
    assert exc.request_id.startswith("req_")
    assert "aspect_ratio" in exc.member_message
    assert exc.member_message.endswith("Change them and try again.")


def test_it_does_not_retry_a_seed_of_the_wrong_type(api, sim):
    exc = refused(create, api, model="google-imagen4-fast", seed="7")
    assert (exc.code, exc.retryable) == ("validation_failed", False)


def test_it_does_not_retry_insufficient_credits(api, sim):
    sim.state.set_credits(3)
    exc = refused(create, api)
    assert (exc.code, exc.status, exc.retryable) == ("insufficient_credits", 402, False)
    assert "out of credits" in exc.member_message
    assert "Add credits" in exc.admin_message


def test_it_does_not_retry_an_idempotency_conflict(api, sim):
    key = str(uuid.uuid4())
    create(api, key=key)
    exc = refused(create, api, key=key, prompt="Something else")
    assert (exc.code, exc.status, exc.retryable) == ("idempotency_conflict", 409, False)


def test_it_does_not_retry_not_found(api, sim):
    exc = refused(api.get_generation, "task_nobody_made")
    assert (exc.code, exc.status, exc.retryable) == ("not_found", 404, False)
    assert "no longer knows this job" in exc.member_message


def test_it_does_not_retry_an_unavailable_model(api, sim):
    sim.faults.unavailable_models = {"google-imagen4-ultra"}
    exc = refused(create, api, model="google-imagen4-ultra")
    assert (exc.code, exc.retryable) == ("validation_failed", False)
    assert "not available" in exc.message


@pytest.mark.parametrize(
    ("arrange", "code", "status"),
    [
        (lambda sim, settings: sim.faults.revoked_keys.add(TEST_API_KEY), "api_key_revoked", 401),
        (lambda sim, settings: sim.faults.expired_keys.add(TEST_API_KEY), "api_key_expired", 401),
        (
            lambda sim, settings: setattr(settings, "RIVYA_API_KEY", "rvya_sk_x"),
            "api_key_invalid",
            401,
        ),
        (lambda sim, settings: setattr(settings, "RIVYA_API_KEY", ""), "api_key_missing", 401),
        (lambda sim, settings: setattr(sim.faults, "scope_denied", True), "api_scope_denied", 403),
    ],
)
def test_it_fails_fast_on_a_key_problem_and_tells_the_admin(sim, settings, arrange, code, status):
    arrange(sim, settings)
    rivya.reset_client()
    exc = refused(create, get_client())
    assert (exc.code, exc.status, exc.retryable) == (code, status, False)
    assert "tell an admin" in exc.member_message
    assert ("RIVYA_API_KEY" if status == 401 else "scope") in exc.admin_message
    assert_secret_kept(exc)


# -- Answers only a fake transport gives -------------------------------------------------------


def test_it_tolerates_unknown_fields():
    body = {
        **TASK,
        "status": "succeeded",
        "session_id": None,
        "usage": {"anything": [1, 2]},
        "brand_new_field": {"nested": True},
        "result": {"primary_url": "https://m.test/a.png", "urls": ["https://m.test/a.png"], "x": 1},
        "error": None,
    }
    task = mock_client(answering(200, body)).get_generation("task_1")
    assert (task.id, task.status, task.urls) == ("task_1", "succeeded", ["https://m.test/a.png"])


@pytest.mark.parametrize("missing", ["id", "status"])
def test_it_reports_a_missing_required_field_as_a_protocol_error(missing):
    body = {k: v for k, v in TASK.items() if k != missing}
    exc = refused(mock_client(answering(200, body)).get_generation, "task_1")
    assert exc.code == "protocol_error"
    assert f"'{missing}' is missing" in exc.message
    assert "could not read" in exc.admin_message


@pytest.mark.parametrize(
    "body",
    [
        {**TASK, "reserved_credits": "eight"},
        {**TASK, "result": "https://m.test/a.png"},
        {**TASK, "error": "boom"},
        ["not", "an", "object"],
    ],
)
def test_it_reports_a_field_of_the_wrong_shape_as_a_protocol_error(body):
    exc = refused(mock_client(answering(200, body)).get_generation, "task_1")
    assert exc.code == "protocol_error"


def test_it_reports_a_success_that_is_not_json():
    exc = refused(mock_client(answering(200, b"<html>hello</html>")).get_credits)
    assert (exc.code, exc.retryable) == ("protocol_error", True)
    assert "not JSON" in exc.message


def test_it_reports_a_client_error_that_is_not_json_without_retrying():
    exc = refused(mock_client(answering(404, b"<html>nginx</html>")).get_credits)
    assert (exc.code, exc.retryable) == ("protocol_error", False)


def test_it_treats_a_429_without_a_json_body_as_rate_limited():
    exc = refused(mock_client(answering(429, b"slow down", {"Retry-After": "3"})).get_credits)
    assert (exc.code, exc.retryable, exc.retry_after) == ("rate_limited", True, 3)


def test_it_honours_a_retry_after_date_on_any_answer():
    when = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=60), usegmt=True)
    envelope = {"error": {"code": "public_api_disabled", "message": "off"}}
    exc = refused(mock_client(answering(503, envelope, {"Retry-After": when})).get_credits)
    assert exc.retry_after is not None
    assert 57 <= exc.retry_after <= 60


def test_it_ignores_an_unreadable_retry_after():
    envelope = {"error": {"code": "rate_limited", "message": "x"}}
    exc = refused(mock_client(answering(429, envelope, {"Retry-After": "soon"})).get_credits)
    assert (exc.retryable, exc.retry_after) == (True, None)


def test_it_retries_an_unknown_code_on_a_5xx():
    envelope = {"error": {"code": "upstream_on_fire", "message": "x", "requestId": "req_1"}}
    exc = refused(mock_client(answering(500, envelope)).get_credits)
    assert (exc.code, exc.kind, exc.retryable) == ("upstream_on_fire", "server_error", True)
    assert "server errors" in exc.member_message


def test_it_does_not_retry_an_unknown_code_on_a_4xx():
    envelope = {"error": {"code": "prompt_too_spicy", "message": "No."}}
    exc = refused(mock_client(answering(400, envelope)).get_credits)
    assert (exc.code, exc.retryable) == ("prompt_too_spicy", False)
    assert "prompt_too_spicy" in exc.member_message
    assert "does not know: prompt_too_spicy: No." in exc.admin_message


def test_it_cuts_off_an_answer_that_drips_past_the_total_deadline():
    def drip():
        yield b'{"current_credits": '
        for _ in range(20):
            time.sleep(0.1)
            yield b" "

    client = mock_client(lambda request: httpx.Response(200, content=drip()), total_timeout=0.5)
    started = time.monotonic()
    exc = refused(client.get_credits)
    assert time.monotonic() - started < 1.5  # the whole drip would take 2 s
    assert (exc.code, exc.retryable) == ("timeout", True)
    assert "within 0.5 s" in exc.message


def test_it_skips_a_model_entry_it_cannot_read():
    listing = {
        "object": "list",
        "data": [{"display_name": "no id"}, {"id": "m", "base_credits": 2}],
    }
    models = mock_client(answering(200, listing)).list_models()
    assert [m.id for m in models] == ["m"]


def test_it_sends_the_key_only_in_the_authorization_header():
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TASK)

    mock_client(handle).create_generation(
        model="google-imagen4", prompt="p", params={}, idempotency_key="k"
    )
    assert seen[0].headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert TEST_API_KEY not in seen[0].content.decode() + str(seen[0].url)


# -- The table ---------------------------------------------------------------------------------

DOCUMENTED_CODES = [
    "validation_failed",
    "insufficient_credits",
    "idempotency_conflict",
    "rate_limited",
    "not_found",
    "generation_failed",
    "public_api_disabled",
    "api_key_missing",
    "api_key_invalid",
    "api_key_revoked",
    "api_key_expired",
    "api_scope_denied",
    "model_unavailable",
    "server_error",
    "timeout",
    "connection_error",
    "protocol_error",
]


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
def test_every_code_has_a_row_with_both_messages(code):
    policy = ERROR_POLICIES[code]
    exc = RivyaError(code, "detail")
    assert exc.member_message
    assert exc.admin_message
    assert "{" not in exc.member_message + exc.admin_message  # every placeholder filled
    assert exc.retryable is policy.retry


def test_only_waiting_and_transport_trouble_is_retried():
    retried = {code for code, policy in ERROR_POLICIES.items() if policy.retry}
    assert retried == {
        "rate_limited",
        "public_api_disabled",
        "server_error",
        "timeout",
        "connection_error",
        "protocol_error",
    }
