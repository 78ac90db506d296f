"""The studio in Prometheus' text format, for ``GET /metrics``.

Where each number lives decides whether it is right with many web and worker processes on many
machines:

- Read from the database at scrape time (so any web node gives the whole team's numbers, and no
  process has to stay up to keep them): generations by status, time from submit to done (a
  histogram over every finished generation: counts only grow, as a counter's do), the rows the
  reconciler would pick up now as overdue, and the last balance beat kept.
- Counted in the process that made the call: Rivya calls by endpoint and outcome
  (``telemetry.py``). Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder per machine (the same
  for its web and worker processes): every process writes there and the scrape adds them up;
  scrape each machine, and sum in Prometheus. Without it, the scrape shows its own process only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from generations import health, lifecycle
from generations.models import Generation, Status

# Seconds from a member's submit to the image being ready (or the generation ending otherwise).
DONE_BUCKETS = (5, 10, 15, 30, 60, 120, 300, 600, 1800)


def generations_by_status() -> Metric:
    family = GaugeMetricFamily(
        "imagen_generations", "Generations by status (deleted ones too)", labels=["status"]
    )
    counts = dict(Generation.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Status:
        family.add_metric([status.value], counts.get(status.value, 0))
    return family


def time_to_done() -> Metric:
    """Every succeeded generation's submit-to-done time, in cumulative buckets: one query."""
    took = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    done = Generation.objects.filter(status=Status.SUCCEEDED, finished_at__isnull=False)
    buckets = {
        f"le_{s}": Count("pk", filter=Q(took__lte=timedelta(seconds=s))) for s in DONE_BUCKETS
    }
    row = done.annotate(took=took).aggregate(count=Count("pk"), total=Sum("took"), **buckets)
    total = row["total"] or timedelta()
    return HistogramMetricFamily(
        "imagen_generation_seconds",
        "Seconds from a member's submit to a succeeded generation's image being ready",
        buckets=[
            *((str(float(s)), row[f"le_{s}"]) for s in DONE_BUCKETS),
            ("+Inf", row["count"]),
        ],
        sum_value=total.total_seconds(),
    )


class StudioCollector(Collector):
    """The numbers read from the database on each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield generations_by_status()
        yield time_to_done()
        yield GaugeMetricFamily(
            "imagen_overdue_generations",
            "Overdue generations: what the reconciler would pick up now (at most 500)",
            value=len(lifecycle.overdue_generations()),
        )
        kept = health.balance()
        if kept is not None:
            yield GaugeMetricFamily(
                "imagen_rivya_balance_credits",
                "The team's Rivya credits, as beat last read them",
                value=kept.value,
            )


def exposition() -> bytes:
    """The whole text: the database's numbers, then the processes' counters."""
    studio = CollectorRegistry(auto_describe=False)
    studio.register(StudioCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
    else:
        processes = REGISTRY
    return generate_latest(studio) + generate_latest(processes)
