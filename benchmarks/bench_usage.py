"""Item 6: the admins' usage page for the last 30 days over a large ledger (in-process Client).

The ledger comes from ``manage.py seed_ledger`` (1,000,000 rows over a year; 100,000 with
``--quick``). The page is timed as a staff member sees it, with the balance cached.
"""

from __future__ import annotations

import time

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


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
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
    client = logged_in_client(bench_user("bench-admin", staff=True))
    reps = 10 if args.quick else 60
    with simulator():
        response = client.get("/usage/")
        assert response.status_code == 200, response.status_code
        assert b"Per member" in response.content
        queries, sql = query_count(lambda: client.get("/usage/"))
        with remote_calls() as calls:
            samples = timed(lambda: client.get("/usage/"), reps, warmup=2)
    emit(
        args,
        {
            "part": "usage",
            "method": "in-process django.test.Client",
            "ledger_rows": total,
            "seed_seconds": round(seeded_s, 1),
            "queries": queries,
            "sql": sql,
            "usage_30_days": summary(samples),
            "remote_calls_in_timed_loop": len(calls),
        },
    )


if __name__ == "__main__":
    main()
