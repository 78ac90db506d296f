"""Item 6 and issue 12: the usage pages and the CSV export over a large ledger (in-process Client).

The ledger comes from ``manage.py seed_ledger`` (1,000,000 rows over a year, three models, 20
members; 100,000 with ``--quick``). The pages are timed as a staff member (the team's page,
with its model breakdown, chart by member and by model) and as a member (their own page) see
them, with the balance cached. The export is timed from the request to its first byte, to its
first ledger row and to its end, for the last 30 days and for the whole year; its memory is the
process's peak RSS during the export (VmHWM, reset first through /proc/self/clear_refs) and the
peak of Python's allocations (tracemalloc, in a second pass, since tracing slows it).
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.core.management import call_command

from benchmarks.common import (
    bench_user,
    cli,
    emit,
    logged_in_client,
    query_count,
    remote_calls,
    setup,
    simulator,
    summary,
    timed,
)


def high_water_mb() -> float:
    """VmHWM of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def reset_high_water() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def read_export(client: Any, url: str) -> dict[str, Any]:
    """One export, read to its end: when its first byte and first ledger row came, its size."""
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.streaming
    chunks = iter(response.streaming_content)
    header = next(chunks)
    first_byte = time.perf_counter() - started
    size, lines, first_row = len(header), header.count(b"\n"), None
    for chunk in chunks:
        if first_row is None and chunk:
            first_row = time.perf_counter() - started
        size, lines = size + len(chunk), lines + chunk.count(b"\n")
    response.close()
    return {
        "first_byte_ms": round(first_byte * 1000, 1),
        "first_row_ms": round((first_row or 0) * 1000, 1),
        "total_s": round(time.perf_counter() - started, 2),
        "rows": lines - 1,
        "mb": round(size / 1e6, 1),
    }


def export_figures(client: Any, url: str) -> dict[str, Any]:
    reset = reset_high_water()
    rss_before = high_water_mb()
    run = read_export(client, url)
    run["rss_high_water_mb"] = high_water_mb() if reset else None
    run["rss_before_mb"] = rss_before
    tracemalloc.start()
    read_export(client, url)
    run["python_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 2)
    tracemalloc.stop()
    return run


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    from django.utils import timezone

    from generations.models import LedgerEntry

    rows = 100_000 if args.quick else 1_000_000
    started = time.perf_counter()
    call_command("seed_ledger", rows=rows)
    seeded_s = time.perf_counter() - started
    if args.backend == "pg":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    total = LedgerEntry.objects.count()
    staff = logged_in_client(bench_user("bench-admin", staff=True))
    member = logged_in_client(bench_user("seed-member-03"))
    today = timezone.localdate()
    year = f"/usage/export.csv?start={today - timedelta(days=365)}&end={today}"
    reps = 10 if args.quick else 40
    pages = {"usage_30_days": "/usage/", "usage_by_model": "/usage/?by=model"}
    results: dict[str, Any] = {}
    with simulator():
        for name, url in {**pages, "usage_me": "/usage/me/"}.items():
            client = member if name == "usage_me" else staff
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            get = partial(client.get, url)
            results[f"{name}_queries"] = query_count(get)[0]
            with remote_calls() as calls:
                results[name] = summary(timed(get, reps, warmup=2))
            results[f"{name}_remote_calls"] = len(calls)
        results["export_30_days"] = export_figures(staff, "/usage/export.csv")
        results["export_year"] = export_figures(staff, year)
    emit(
        args,
        {
            "part": "usage",
            "method": "in-process django.test.Client",
            "ledger_rows": total,
            "seed_seconds": round(seeded_s, 1),
            "queries": results["usage_30_days_queries"],
            **results,
        },
    )


if __name__ == "__main__":
    main()
