"""``GET /metrics``: the studio in Prometheus' text format, for a Bearer METRICS_TOKEN or a
client from METRICS_ALLOWED_ADDRESSES only. What is counted where: generations/metrics.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from generations.models import Generation, Status
from tests.rows import generation
from tests.support import beat_refresh, kept_balance, let_lease_run_out, new_generation

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def locked(settings):
    """Only the token opens it: no address is allowed."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_ADDRESSES = []


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_it_refuses_without_the_token(client, locked):
    assert client.get("/metrics").status_code == 403
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", headers=wrong).status_code == 403


def test_it_answers_with_the_token(client, locked):
    assert ("imagen_generations", (("status", "queued"),)) in scrape(client)


def test_it_answers_an_allowed_address_without_a_token(client, settings):
    settings.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


def test_it_reads_the_address_the_proxy_saw(client, settings):
    settings.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    settings.TRUSTED_PROXY_COUNT = 1
    through_proxy = {"headers": {"X-Forwarded-For": "192.0.2.7"}, "REMOTE_ADDR": "10.0.0.1"}
    assert (
        client.get("/metrics", **through_proxy).status_code == 403
    )  # the client's, not the proxy's


def test_it_counts_generations_by_status_and_time_to_done(client, locked, alice):
    quick = generation(alice)
    Generation.objects.filter(pk=quick.pk).update(
        finished_at=quick.created_at + timedelta(seconds=8)
    )
    slow = generation(alice)
    Generation.objects.filter(pk=slow.pk).update(
        finished_at=slow.created_at + timedelta(seconds=50)
    )
    generation(alice, status=Status.FAILED)
    new_generation(alice)
    samples = scrape(client)
    assert samples[("imagen_generations", (("status", "succeeded"),))] == 2
    assert samples[("imagen_generations", (("status", "failed"),))] == 1
    assert samples[("imagen_generations", (("status", "queued"),))] == 1
    assert samples[("imagen_generation_seconds_bucket", (("le", "5.0"),))] == 0
    assert samples[("imagen_generation_seconds_bucket", (("le", "10.0"),))] == 1
    assert samples[("imagen_generation_seconds_bucket", (("le", "60.0"),))] == 2
    assert samples[("imagen_generation_seconds_count", ())] == 2
    assert samples[("imagen_generation_seconds_sum", ())] == pytest.approx(58)


def test_it_counts_the_overdue_rows_the_reconciler_would_pick_up(client, locked, alice):
    waiting = new_generation(alice)
    assert scrape(client)[("imagen_overdue_generations", ())] == 0
    let_lease_run_out(waiting.pk)
    assert scrape(client)[("imagen_overdue_generations", ())] == 1


def test_it_shows_the_kept_balance_and_the_rivya_calls(client, locked, sim):
    before = scrape(client)
    credits = ("imagen_rivya_calls_total", (("endpoint", "GET /api/v1/credits"), ("outcome", "ok")))
    sim.faults.rate_limit(count=1, on="any")
    beat_refresh()  # the model list is refused (429), the balance read
    samples = scrape(client)
    assert samples[("imagen_rivya_balance_credits", ())] == kept_balance().value
    assert samples[credits] == before.get(credits, 0) + 1
    limited = (
        "imagen_rivya_calls_total",
        (("endpoint", "GET /api/v1/models"), ("outcome", "rate_limited")),
    )
    assert samples[limited] == before.get(limited, 0) + 1
