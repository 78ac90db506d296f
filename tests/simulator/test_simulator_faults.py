"""The simulator's fault switches, through Python and through ``POST /_sim/faults``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest

from rivya_sim import Faults


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_it_adds_latency_to_every_api_response(sim, client):
    sim.faults.latency = 0.2
    started = time.monotonic()
    assert client.get("/api/v1/credits").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_it_rate_limits_the_next_creates_only(sim, client, create):
    sim.faults.rate_limit(count=2, retry_after=7, on="create")
    assert client.get("/api/v1/credits").status_code == 200
    for _ in range(2):
        response = create()
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert code_of(response) == "rate_limited"
    assert create().status_code == 200
    assert (sim.state.create_requests, sim.state.creates_total) == (3, 1)


def test_it_can_send_retry_after_as_an_http_date(sim, client):
    sim.faults.rate_limit(count=1, retry_after=60, retry_after_http_date=True)
    response = client.get("/api/v1/credits")
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert 55 <= (when - datetime.now(tz=UTC)).total_seconds() <= 61


def test_it_answers_server_errors_on_gets(sim, client, create):
    task_id = create().json()["id"]
    sim.faults.server_error(count=1, status=503, on="get")
    response = client.get(f"/api/v1/generations/{task_id}")
    assert response.status_code == 503
    assert code_of(response) == "internal_error"
    assert client.get(f"/api/v1/generations/{task_id}").status_code == 200
    assert sim.state.get_requests == 2


def test_it_answers_html_from_a_bad_gateway(sim, client):
    sim.faults.non_json(count=1)
    response = client.get("/api/v1/models")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html>Bad gateway</html>"


def test_it_times_out_by_closing_without_an_answer(sim, client, create):
    sim.faults.timeout(count=1, seconds=0.2, on="create")
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        create()
    assert time.monotonic() - started >= 0.2
    assert sim.state.creates_total == 0
    assert create().status_code == 200


def test_it_can_drop_the_answer_after_creating_the_task(sim, create):
    sim.faults.drop_after_create(count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        create(key="lost-answer")
    assert sim.state.creates_total == 1
    assert sim.state.credits_current == 100_000 - 8
    retry = create(key="lost-answer")
    assert retry.status_code == 200
    assert retry.json()["id"] == sim.state.tasks_by_key("lost-answer")[0].id
    assert sim.state.creates_total == 1


def test_it_can_disable_the_public_api(sim, client):
    sim.faults.public_api_disabled(count=1)
    response = client.get("/api/v1/credits")
    assert response.status_code == 503
    assert code_of(response) == "public_api_disabled"
    assert client.get("/api/v1/credits").status_code == 200


def test_it_sends_an_odd_answer_exactly_as_given(sim, client, create):
    sim.faults.odd_answer(
        count=1,
        status=429,
        body="<html>Slow down</html>",
        content_type="text/html",
        headers={"Retry-After": "99999999999999999999"},
        on="create",
    )
    assert client.get("/api/v1/credits").status_code == 200  # not a create: answered as usual
    response = create()
    assert (response.status_code, response.text) == (429, "<html>Slow down</html>")
    assert response.headers["retry-after"] == "99999999999999999999"
    assert response.headers["content-type"] == "text/html"
    assert sim.state.creates_total == 0
    assert create().status_code == 200


def test_it_plays_a_success_with_an_odd_body(sim, client):
    sim.faults.odd_answer(count=1, status=200, body='{"id": "../credits", "status": "queued"}')
    assert client.get("/api/v1/credits").json() == {"id": "../credits", "status": "queued"}


def test_it_counts_every_api_request_by_path(sim, client, create):
    sim.faults.server_error(count=1)
    client.get("/api/v1/credits")
    client.get("/api/v1/credits")
    task_id = create().json()["id"]
    assert sim.state.api_paths == {
        "GET /api/v1/credits": 2,
        "POST /api/v1/generations": 1,
    }
    client.get(f"/api/v1/generations/{task_id}")
    assert sim.state.api_paths[f"GET /api/v1/generations/{task_id}"] == 1
    client.get("/_sim/state")  # not an API request
    assert len(sim.state.api_paths) == 3


def test_it_keeps_a_fault_with_a_negative_count_until_reset(sim, client):
    sim.faults.server_error(count=-1)
    assert [client.get("/api/v1/credits").status_code for _ in range(3)] == [500] * 3
    sim.faults.reset()
    assert client.get("/api/v1/credits").status_code == 200


def test_it_fires_one_fault_per_request(sim, client):
    sim.faults.server_error(count=1)
    sim.faults.rate_limit(count=1)
    assert client.get("/api/v1/credits").status_code == 500
    assert client.get("/api/v1/credits").status_code == 429
    assert client.get("/api/v1/credits").status_code == 200


def test_it_never_faults_the_control_endpoints(sim, client):
    sim.faults.server_error(count=-1)
    assert client.get("/_sim/state").status_code == 200


def test_it_takes_faults_over_http(sim, client, create):
    response = client.post(
        "/_sim/faults",
        json={
            "rate_limit": {"count": 2, "retry_after": 7, "on": "create"},
            "result_mode": "fail",
            "latency": 0,
            "drop_after_create": 0,
            "scope_denied": False,
            "revoked_keys": ["rvya_sk_old"],
        },
    )
    assert response.status_code == 200
    snapshot = response.json()
    assert snapshot["rate_limit"] == {
        "count": 2, "on": "create", "retry_after": 7, "retry_after_http_date": False,
    }  # fmt: skip
    assert snapshot["result_mode"] == "fail"
    assert snapshot["revoked_keys"] == ["rvya_sk_old"]
    assert create().status_code == 429


def test_it_takes_an_odd_answer_over_http(sim, client):
    odd = {"count": 1, "status": 503, "body": "[]", "headers": {"Retry-After": "-3"}}
    response = client.post("/_sim/faults", json={"odd_answer": odd})
    assert response.status_code == 200
    assert response.json()["odd_answer"]["body"] == "[]"
    answer = client.get("/api/v1/models")
    assert (answer.status_code, answer.text, answer.headers["retry-after"]) == (503, "[]", "-3")


@pytest.mark.parametrize(
    "body",
    [
        {"bogus": 1},
        {"result_mode": "sideways"},
        {"webhook_mode": 3},
        {"server_error": {"count": 1, "status": 404}},
        {"rate_limit": {"count": 1, "on": "everything"}},
        {"timeout": {"count": 1, "colour": "red"}},
        {"latency": -1},
        {"revoked_keys": "rvya_sk_old"},
        {"odd_answer": {"count": 1, "status": 99}},
        {"odd_answer": {"count": 1, "status": "503"}},
        {"odd_answer": {"count": 1, "body": ["not", "text"]}},
        {"odd_answer": {"count": 1, "headers": ["Retry-After", "1"]}},
        {"odd_answer": {"count": 1, "headers": {"Retry-After": "1\r\nX-Evil: 1"}}},
        {"odd_answer": {"count": 1, "headers": {"Bad Name": "1"}}},
        {"odd_answer": {"count": 1, "headers": {"Content-Length": "0"}}},
        {"odd_answer": {"count": 1, "headers": {"Retry-After": "日本"}}},
    ],
)
def test_it_refuses_bad_fault_settings(client, body):
    response = client.post("/_sim/faults", json=body)
    assert response.status_code == 400
    assert code_of(response) == "validation_failed"


def test_it_checks_modes_set_from_python():
    faults = Faults()
    with pytest.raises(ValueError, match="result_mode"):
        faults.result_mode = "sideways"
    with pytest.raises(ValueError, match="on must be"):
        faults.rate_limit(on="everything")  # type: ignore[arg-type]
