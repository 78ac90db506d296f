"""LOG_FORMAT=json: one JSON object per line, with the request id (or the Celery task's id), the
generation a task is about, and for each Rivya call its endpoint, outcome and Rivya's requestId."""

from __future__ import annotations

import io
import json
import logging

import pytest

from generations import tasks
from imagen_site.logs import ContextFilter, JsonFormatter
from tests.support import django_process, new_generation, settings_refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """What the console handler writes with LOG_FORMAT=json, as parsed lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_response_carries_its_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "lb-42"})["X-Request-ID"] == "lb-42"


def test_it_makes_its_own_id_for_one_that_could_forge_a_line(client):
    forged = 'x", "level": "CRITICAL'
    assert client.get("/healthz", headers={"X-Request-ID": forged})["X-Request-ID"] != forged


def test_a_request_s_lines_carry_its_id(client, settings, tmp_path, json_lines, local_media):
    (tmp_path / "a-file").write_text("")
    settings.MEDIA_ROOT = str(tmp_path / "a-file" / "media")  # the health check logs why
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7"})
    lines = [line for line in json_lines() if line["logger"] == "imagen_site.operations"]
    assert lines[0]["request_id"] == "lb-7"
    assert lines[0]["message"] == "Health check: the storage is failing"
    assert "NotADirectoryError" in lines[0]["exception"]
    assert response.status_code == 503


def test_a_rivya_call_names_the_generation_and_rivya_s_request_id(sim, alice, json_lines):
    generation = new_generation(alice)
    sim.faults.rate_limit(count=1, on="create")
    result = tasks.submit_generation.apply(args=[generation.pk])
    [line] = [line for line in json_lines() if line["logger"] == "generations.telemetry"]
    assert line["generation"] == generation.pk
    assert line["request_id"] == result.id
    assert line["rivya_endpoint"] == "POST /api/v1/generations"
    assert line["rivya_outcome"] == "rate_limited"
    assert line["rivya_status"] == 429
    assert line["rivya_request_id"].startswith("req_")
    assert line["level"] == "INFO"


def test_log_format_json_writes_json_lines(tmp_path):
    code = "import logging; logging.getLogger('studio').warning('Hello %s', 'there')"
    done = django_process(tmp_path, code, LOG_FORMAT="json", LOG_LEVEL="WARNING")
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert (line["logger"], line["level"], line["message"]) == ("studio", "WARNING", "Hello there")


def test_it_refuses_a_log_format_it_does_not_know():
    assert "LOG_FORMAT must be plain or json" in settings_refused({"LOG_FORMAT": "xml"})
