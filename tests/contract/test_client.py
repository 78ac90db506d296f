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
from tests.contract.support import answering, mock_client
from tests.support import CLOSED_PORT_URL, TEST_API_KEY

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


# -- Answers of any shape (issue 9: each was reproduced as a crash) -------------------------------

ODD_ERROR_BODIES = [
    pytest.param(b'{"error": "Service Unavailable"}', id="error-is-a-string"),
    pytest.param(b'{"error": null}', id="error-is-null"),
    pytest.param(b'{"error": {"code": null, "message": 3}}', id="code-is-null"),
    pytest.param(b'{"error": {"code": "a b/c"}}', id="code-is-not-a-token"),
    pytest.param(b'[{"error": "x"}]', id="a-list"),
    pytest.param(
        b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", id="html"
    ),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"error": {"code": "rate_li', id="truncated-json"),
    pytest.param(b'"Service Unavailable"', id="a-string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"503", id="a-number"),
    pytest.param(b"\xff\xfe{}", id="not-utf-8"),
]


@pytest.mark.parametrize("body", ODD_ERROR_BODIES)
@pytest.mark.parametrize(
    ("status", "code"), [(503, "server_error"), (500, "server_error"), (429, "rate_limited")]
)
def test_it_retries_a_5xx_or_429_whatever_its_body(body, status, code):
    for call in ("get_credits", "list_models", "get_generation"):
        client = mock_client(answering(status, body))
        exc = refused(getattr(client, call), *(["task_1"] if call == "get_generation" else []))
        assert (exc.code, exc.status, exc.retryable) == (code, status, True)
        assert f"HTTP {status} with" in exc.message


@pytest.mark.parametrize("body", ODD_ERROR_BODIES)
def test_it_does_not_retry_a_4xx_without_the_error_envelope(body):
    exc = refused(mock_client(answering(400, body)).get_credits)
    assert (exc.code, exc.status, exc.retryable) == ("protocol_error", 400, False)
    assert "could not read" in exc.admin_message


def test_it_says_what_kind_of_body_came_instead_of_the_envelope():
    said = {
        body: refused(mock_client(answering(502, body)).get_credits).message
        for body in (b"", b"<html>x</html>", b'{"error": null}')
    }
    assert said == {
        b"": "HTTP 502 with an empty body",
        b"<html>x</html>": "HTTP 502 with a body that is not a JSON error",
        b'{"error": null}': "HTTP 502 with a JSON body that is not Rivya's error envelope",
    }


@pytest.mark.parametrize(("status", "kind"), [(500, "server_error"), (429, "rate_limited")])
def test_it_retries_a_5xx_or_429_even_when_its_code_says_otherwise(status, kind):
    envelope = {"error": {"code": "validation_failed", "message": "x", "requestId": "req_9"}}
    exc = refused(mock_client(answering(status, envelope)).get_credits)
    assert (exc.code, exc.kind, exc.retryable, exc.request_id) == (
        "validation_failed",
        kind,
        True,
        "req_9",
    )


def test_it_keeps_the_waiting_code_of_a_503():
    envelope = {"error": {"code": "public_api_disabled", "message": "off"}}
    exc = refused(mock_client(answering(503, envelope)).get_credits)
    assert (exc.code, exc.kind, exc.retryable) == (
        "public_api_disabled",
        "public_api_disabled",
        True,
    )


def test_it_shortens_a_long_message_and_drops_an_odd_request_id():
    envelope = {"error": {"code": "rate_limited", "message": "m" * 5000, "requestId": "a/../b"}}
    exc = refused(mock_client(answering(429, envelope)).get_credits)
    assert len(exc.message) == rivya.MAX_TEXT
    assert exc.request_id == ""


@pytest.mark.parametrize(
    "result",
    [
        {"primary_url": "https://m.test/a.png", "urls": "https://m.test/a.png"},
        {"primary_url": "https://m.test/a.png", "urls": {"0": "https://m.test/b.png"}},
        {"primary_url": "https://m.test/a.png", "urls": 7},
        {"primary_url": "https://m.test/a.png", "urls": None},
    ],
)
def test_it_uses_the_primary_url_when_urls_is_not_a_list(result):
    body = {**TASK, "status": "succeeded", "result": result}
    task = mock_client(answering(200, body)).get_generation("task_1")
    assert task.urls == ["https://m.test/a.png"]


def test_it_drops_url_entries_that_are_not_web_addresses():
    urls = [
        "https://m.test/a.png",
        7,
        None,
        {"url": "https://m.test/x.png"},
        "ftp://m.test/b.png",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://[::1",
        "https://m.test/a b.png",
        "https://m.test/\n.png",
        "/relative.png",
        "HTTP://m.test/c.png",
    ]
    body = {**TASK, "status": "succeeded", "result": {"primary_url": 3, "urls": urls}}
    task = mock_client(answering(200, body)).get_generation("task_1")
    assert task.urls == ["https://m.test/a.png", "HTTP://m.test/c.png"]


@pytest.mark.parametrize("status", ["cancelled", "moderating", "", "QUEUED", "x" * 5000])
def test_it_reads_an_unknown_status_as_still_running(status):
    task = mock_client(answering(200, {**TASK, "status": status})).get_generation("task_1")
    assert task.status is rivya.TaskStatus.UNKNOWN
    assert str(task.status) == "unknown"  # what the lifecycle stores as remote_status (32 long)
    assert not task.is_finished


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("99999999999999999999", rivya.MAX_RETRY_AFTER_SECONDS),
        ("9" * 5000, rivya.MAX_RETRY_AFTER_SECONDS),
        ("901", rivya.MAX_RETRY_AFTER_SECONDS),
        ("900", 900),
        ("0", 0),
        ("-5", None),
        ("1.5", None),
        ("NaN", None),
        ("inf", None),
        ("1e9", None),
        ("soon", None),
        ("", None),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
        ("Mon, 01 Jan 2001 00:00:00 +99999999999", None),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),  # a date in the past: no wait
        ("Fri, 31 Dec 9999 23:59:59 GMT", rivya.MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_it_caps_an_absurd_retry_after_and_drops_an_unreadable_one(value, seconds):
    envelope = {"error": {"code": "rate_limited", "message": "x"}}
    exc = refused(mock_client(answering(429, envelope, {"Retry-After": value})).get_credits)
    assert exc.retry_after == seconds
    if exc.retry_after is not None:
        timedelta(seconds=exc.retry_after)  # overflowed here before the cap


@pytest.mark.parametrize("task_id", ["../credits", "..", "task_1/../../credits", "a b", "x" * 129])
def test_it_refuses_a_created_task_whose_id_is_not_a_plain_token(task_id):
    exc = refused(
        mock_client(answering(201, {**TASK, "id": task_id})).create_generation,
        model="google-imagen4",
        prompt="p",
        params={},
        idempotency_key="k",
    )
    assert exc.code == "protocol_error"
    assert "not a plain token" in exc.message


@pytest.mark.parametrize("task_id", ["../credits", "..", ".", "task_1/x", "task_1?x=1", "", "é"])
def test_it_sends_nothing_for_a_task_id_that_is_not_a_plain_token(task_id):
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=TASK)

    exc = refused(mock_client(handle).get_generation, task_id)
    assert (exc.code, exc.retryable) == ("protocol_error", False)
    assert sent == []


def test_it_reports_a_base_url_httpx_cannot_read_as_a_connection_error():
    client = rivya.RivyaClient("http://[::1", TEST_API_KEY)  # made without complaint
    exc = refused(client.get_credits)
    assert (exc.code, exc.retryable) == ("connection_error", True)
    assert "InvalidURL" in exc.message
    assert "RIVYA_BASE_URL" in exc.admin_message


@pytest.mark.parametrize(
    "error",
    [
        httpx.InvalidURL("bad"),
        httpx.StreamConsumed(),
        httpx.StreamClosed(),
        httpx.CookieConflict("two"),
        httpx.UnsupportedProtocol("gopher"),
    ],
    ids=type,
)
def test_it_reports_httpx_errors_outside_http_error_as_rivya_errors(error):
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    exc = refused(mock_client(handle).get_credits)
    assert (exc.code, exc.retryable) == ("connection_error", True)
    assert type(error).__name__ in exc.message


def test_it_reports_a_body_its_content_encoding_does_not_describe():
    answer = answering(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    exc = refused(mock_client(answer).get_credits)
    assert (exc.code, exc.retryable) == ("protocol_error", True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"current_credits": ' + b"9" * 5000 + b"}", id="more-digits-than-int-takes"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeper-than-the-stack"),
        pytest.param(b'{"current_credits": 5\xff}', id="not-utf-8"),
        pytest.param(b'{"current_credits": NaN}', id="nan"),
        pytest.param(b'{"current_credits": true}', id="a-boolean"),
        pytest.param(b'{"current_credits": -3}', id="negative"),
        pytest.param(b'{"current_credits": 5.0}', id="a-float"),
        pytest.param(b'{"current_credits": 99999999999999999999}', id="past-the-ledger"),
    ],
)
def test_it_reports_a_balance_it_cannot_believe_as_a_protocol_error(body):
    exc = refused(mock_client(answering(200, body)).get_credits)
    assert (exc.code, exc.retryable) == ("protocol_error", True)


@pytest.mark.parametrize(
    "field",
    [
        {"reserved_credits": True},
        {"reserved_credits": -8},
        {"final_credits": 2**31},
        {"final_credits": "8"},
    ],
)
def test_it_reports_task_credits_it_cannot_believe_as_a_protocol_error(field):
    exc = refused(mock_client(answering(200, {**TASK, **field})).get_generation, "task_1")
    assert exc.code == "protocol_error"


def test_it_keeps_only_a_plain_error_code_of_a_failed_task():
    error = {"code": {"nested": "dict"}, "message": ["not", "text"]}
    body = {**TASK, "status": "failed", "error": error}
    task = mock_client(answering(200, body)).get_generation("task_1")
    assert (task.error_code, task.error_message) == ("", "")


def test_it_reads_only_what_it_can_of_a_model_entry():
    entry = {
        "id": "m",
        "base_credits": 2,
        "max_prompt_length": True,
        "display_name": {"en": "M"},
        "params": [
            {"key": "aspect_ratio", "default": [1], "options": ["1:1", 2, None, {"x": 1}, True]},
            {"key": "seed", "default": float("nan")},
        ],
    }
    (model,) = mock_client(
        answering(200, {"data": [entry, {"id": "n", "base_credits": -1}]})
    ).list_models()
    assert (model.id, model.display_name, model.max_prompt_length) == ("m", "m", None)
    assert model.param("aspect_ratio") == rivya.ModelParam(
        "aspect_ratio", "text", None, ("1:1", "2")
    )
    assert model.param("seed") == rivya.ModelParam("seed", "text", None, ())


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
