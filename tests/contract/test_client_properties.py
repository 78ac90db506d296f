"""Property-based: whatever Rivya answers (any status, any headers, any body), each public method
of the real ``RivyaClient`` returns its typed result or raises ``RivyaError``, and nothing else.

The answers are made by Hypothesis and served through ``httpx.MockTransport``, the client's own
seam, so the whole path runs: the request, the streamed read, the status, the headers and the
body. Example counts are modest so the suite stays quick; a failure prints the answer to replay.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generations.rivya import (
    HTTPX_FAILURES,
    MAX_CREDITS,
    MAX_RETRY_AFTER_SECONDS,
    TASK_ID,
    ModelInfo,
    RemoteTask,
    RivyaClient,
    RivyaError,
    TaskStatus,
    parse_retry_after,
)
from tests.contract.support import mock_client

QUICK = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- Answers -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
task_ids = st.one_of(
    st.from_regex(TASK_ID, fullmatch=True),
    st.sampled_from(["../credits", "..", ".", "a/b", "task_1?x=1", "task_1#x", "%2e%2e", ""]),
    st.text(max_size=12),
)
statuses = st.sampled_from(["queued", "processing", "succeeded", "failed", "cancelled", ""]) | (
    st.text(max_size=40)
)
urls = st.sampled_from(
    [
        "https://m.test/a.png",
        "http://m.test/b.png",
        "ftp://m.test/c.png",
        "javascript:alert(1)",
        "https://[::1",
        "https://m.test/a b.png",
        "https://m.test/\n.png",
        "",
    ]
) | st.text(max_size=20)
counts = st.one_of(
    st.integers(min_value=-5, max_value=20),
    st.sampled_from([MAX_CREDITS, MAX_CREDITS + 1, 10**30, True, False, 8.0, "8", None]),
)
error_objects = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(["validation_failed", "rate_limited", "upstream_on_fire", "x" * 80])
        | json_values,
        "message": json_values,
        "requestId": st.sampled_from(["req_1", "req/../x"]) | json_values,
    },
)
results = st.fixed_dictionaries(
    {},
    optional={
        "primary_url": urls | json_values,
        "urls": st.lists(urls | json_values) | json_values,
    },
)
tasks = st.fixed_dictionaries(
    {},
    optional={
        "id": task_ids | json_values,
        "status": statuses | json_values,
        "model": json_values,
        "reserved_credits": counts,
        "final_credits": counts,
        "result": results | json_values,
        "error": error_objects | json_values,
    },
)
models = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("google-imagen4") | json_values,
        "base_credits": counts,
        "max_prompt_length": counts,
        "api_status": st.just("available") | json_values,
        "params": st.lists(
            st.fixed_dictionaries(
                {}, optional={"key": json_values, "default": json_values, "options": json_values}
            ),
            max_size=3,
        )
        | json_values,
    },
)
shaped = st.one_of(
    st.fixed_dictionaries({"error": error_objects | json_values}),
    tasks,
    st.fixed_dictionaries({"current_credits": counts}),
    st.fixed_dictionaries({"data": st.lists(models, max_size=3) | json_values}),
    json_values,
)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    body = as_json(draw(shaped))
    return body[: draw(st.integers(min_value=0, max_value=len(body)))]


bodies = st.one_of(
    shaped.map(as_json),
    truncated(),
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            b'"Service Unavailable"',
            b"null",
            b"42",
            b"NaN",
            b'{"error": "Service Unavailable"}',
            b'{"error": null}',
            b"\xff\xfe\x00{\x00}",  # not UTF-8
            b'{"current_credits": ' + b"9" * 5000 + b"}",  # more digits than int() takes
            b"[" * 100_000 + b"]" * 100_000,  # deeper than the interpreter's stack
        ]
    ),
    shaped.map(lambda value: gzip.compress(as_json(value))),
)
retry_after_values = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["99999999999999999999", "9" * 5000, "-1", "1e9", "nan", "inf", "", " 7 "]),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda when: format_datetime(when.replace(tzinfo=UTC), usegmt=True)
    ),
    st.text(max_size=40),
)
header_values = st.one_of(
    st.text(max_size=30).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=30),
)
headers = st.lists(
    st.tuples(
        st.sampled_from(["Retry-After", "Content-Type", "Content-Encoding", "X-Request-Id"]),
        header_values,
    )
    | st.tuples(st.just("Retry-After"), retry_after_values.map(lambda text: text.encode("utf-8")))
    | st.tuples(st.just("Content-Encoding"), st.sampled_from([b"gzip", b"deflate", b"br", b"x"])),
    max_size=4,
)
http_statuses = st.integers(min_value=100, max_value=599) | st.sampled_from(
    [200, 201, 202, 204, 302, 400, 401, 404, 409, 429, 500, 502, 503, 504]
)


def answering(status: int, header_list: list[tuple[str, bytes]], body: bytes) -> RivyaClient:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers=[(n.encode(), v) for n, v in header_list], content=body
        )

    return mock_client(handle)


# -- What may come out ---------------------------------------------------------------------------

CALLS: dict[str, Callable[[RivyaClient], Any]] = {
    "create_generation": lambda client: client.create_generation(
        model="google-imagen4", prompt="p", params={}, idempotency_key="k"
    ),
    "get_generation": lambda client: client.get_generation("task_1"),
    "get_credits": lambda client: client.get_credits(),
    "list_models": lambda client: client.list_models(),
}


def assert_typed_error(exc: RivyaError) -> None:
    assert isinstance(exc.code, str)
    assert exc.code
    assert isinstance(exc.retryable, bool)
    assert isinstance(exc.member_message, str)
    assert exc.member_message
    assert isinstance(exc.admin_message, str)
    assert exc.admin_message
    assert_retry_after(exc.retry_after)
    if exc.status == 429 or (exc.status or 0) >= 500:
        assert exc.retryable  # Rivya's trouble or a request to wait, whatever the body said


def assert_retry_after(seconds: float | None) -> None:
    if seconds is not None:
        assert 0 <= seconds <= MAX_RETRY_AFTER_SECONDS
        timedelta(seconds=seconds)  # what the lifecycle does with it


def assert_count(value: Any) -> None:
    assert type(value) is int
    assert 0 <= value <= MAX_CREDITS


def assert_task(task: Any) -> None:
    assert isinstance(task, RemoteTask)
    assert TASK_ID.fullmatch(task.id)
    assert isinstance(task.status, TaskStatus)
    assert_count(task.reserved_credits)
    assert_count(task.final_credits)
    assert all(
        isinstance(url, str) and url.startswith(("http://", "https://")) for url in task.urls
    )
    assert len(task.urls) == len(set(task.urls))
    assert isinstance(task.error_code, str)
    assert len(task.error_code) <= 64
    assert isinstance(task.error_message, str)


def assert_models(models: Any) -> None:
    assert isinstance(models, list)
    for model in models:
        assert isinstance(model, ModelInfo)
        assert isinstance(model.id, str)
        assert model.id
        assert_count(model.base_credits)
        length = model.max_prompt_length
        assert length is None or (type(length) is int and length > 0)
        for param in model.params:
            assert isinstance(param.default, str | int | float | type(None))
            assert not (isinstance(param.default, float) and not math.isfinite(param.default))
            assert all(isinstance(option, str) for option in param.options)


CHECKS: dict[str, Callable[[Any], None]] = {
    "create_generation": assert_task,
    "get_generation": assert_task,
    "get_credits": assert_count,
    "list_models": assert_models,
}


def outcome(name: str, client: RivyaClient) -> Any:
    """Call one method: its result, checked, or the RivyaError it raised, checked. Any other
    exception propagates, and fails the test with the answer that caused it."""
    try:
        result = CALLS[name](client)
    except RivyaError as exc:
        assert_typed_error(exc)
        return exc
    CHECKS[name](result)
    return result


# -- The properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CALLS))
@QUICK
@given(status=http_statuses, header_list=headers, body=bodies)
def test_every_answer_is_a_typed_result_or_a_rivya_error(name, status, header_list, body):
    outcome(name, answering(status, header_list, body))


@pytest.mark.parametrize("name", sorted(CALLS))
@QUICK
@given(status=http_statuses, retry_after=retry_after_values, body=bodies)
def test_retry_after_is_never_negative_nor_past_the_cap(name, status, retry_after, body):
    client = answering(status, [("Retry-After", retry_after.encode("utf-8"))], body)
    result = outcome(name, client)
    if isinstance(result, RivyaError):
        assert_retry_after(result.retry_after)


@QUICK
@given(value=retry_after_values | st.text())
def test_parse_retry_after_is_none_or_within_the_cap(value):
    assert_retry_after(parse_retry_after(value))


@QUICK
@given(status=st.sampled_from([200, 201, 202]), task=tasks)
def test_a_create_answer_of_any_shape_is_a_task_or_a_protocol_error(status, task):
    client = answering(status, [], as_json(task))
    result = outcome("create_generation", client)
    if isinstance(result, RivyaError):
        assert result.code == "protocol_error"


@QUICK
@given(task_id=task_ids)
def test_no_task_id_leaves_the_status_path(task_id):
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": "task_1", "status": "queued"})

    client = mock_client(handle)
    if TASK_ID.fullmatch(task_id):
        client.get_generation(task_id)
        assert [request.url.raw_path for request in sent] == [
            b"/api/v1/generations/" + task_id.encode()
        ]
        return
    with pytest.raises(RivyaError) as refused:
        client.get_generation(task_id)
    assert (refused.value.code, refused.value.retryable) == ("protocol_error", False)
    assert sent == []  # refused before anything was sent


def every_httpx_exception() -> list[type[BaseException]]:
    found = {
        value
        for value in vars(httpx).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    return sorted(found, key=lambda cls: cls.__name__)


def test_the_client_catches_every_exception_class_httpx_has():
    uncovered = [cls for cls in every_httpx_exception() if not issubclass(cls, HTTPX_FAILURES)]
    assert uncovered == []
    assert len(every_httpx_exception()) > 20  # the walk found httpx's classes


def raising(cls: type[BaseException]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        if issubclass(cls, httpx.RequestError):
            raise cls("boom", request=request)
        if issubclass(cls, httpx.HTTPStatusError):
            raise cls("boom", request=request, response=httpx.Response(500))
        if issubclass(cls, httpx.StreamError) and cls is not httpx.StreamError:
            raise cls()  # type: ignore[call-arg]  # the subclasses take no message
        raise cls("boom")

    return handle


@pytest.mark.parametrize("cls", every_httpx_exception(), ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_any_httpx_exception_on_the_way_is_a_rivya_error(cls, name):
    exc = outcome(name, mock_client(raising(cls)))
    assert isinstance(exc, RivyaError)
    assert exc.retryable
    assert exc.code in ("timeout", "connection_error", "protocol_error")
