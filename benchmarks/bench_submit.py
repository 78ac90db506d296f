"""Item 4: the form POST to the saved row and the enqueued job (in-process Django Client).

Both the htmx POST (what the page sends) and the plain POST (no JavaScript) are timed, round
robin. Every request any httpx client sends during the timed loop is counted: the floor is none.
The jobs land on the benchmark's own broker (filesystem folder, or Redis db 13) and are counted
there, then purged so that no worker ever runs them.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import (
    bench_user,
    cli,
    emit,
    logged_in_client,
    new_token,
    query_count,
    remote_calls,
    setup,
    simulator,
    summary,
)


def form(prompt: str) -> dict[str, str]:
    return {
        "form_token": new_token(),
        "model": "google-imagen4",
        "prompt": prompt,
        "aspect_ratio": "1:1",
        "negative_prompt": "",
        "seed": "",
    }


def queued_messages() -> int:
    from imagen_site.celery import app

    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        _, count, _ = channel.queue_declare("celery", passive=False)
        return int(count)


def purge() -> None:
    from imagen_site.celery import app

    app.control.purge()


def cold_cache_posts(client: Any, htmx: dict[str, str], count: int, key: str | None) -> Any:
    """The same POST right after what workers learned from Rivya (the model list, the balance,
    its health) dropped out of this process's cache (``key``), or the whole cache (None)."""
    from django.core.cache import cache

    samples = []
    with remote_calls() as calls:
        for n in range(count):
            if key is None:
                cache.clear()
            else:
                cache.delete(key)
            start = time.perf_counter()
            client.post("/generations/", form(f"cold {n}"), **htmx)
            samples.append(time.perf_counter() - start)
    return {**summary(samples), "remote_calls": len(calls), "calls": sorted(set(calls))}


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    from generations.models import Generation

    reps = 25 if args.quick else 300
    user = bench_user("bench-submit")
    client = logged_in_client(user)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "history-list"}
    with simulator(delay=60):
        purge()
        before_rows = Generation.objects.filter(user=user).count()
        # Warm-up: the first request loads the model list and the balance into the cache.
        for _ in range(3):
            client.post("/generations/", form("warm-up"), **htmx)
        queries, sql = query_count(lambda: client.post("/generations/", form("count"), **htmx))
        purge()
        before_queue = queued_messages()
        samples: dict[str, list[float]] = {"htmx_post": [], "plain_post": []}
        with remote_calls() as calls:
            for n in range(reps):
                start = time.perf_counter()
                response = client.post("/generations/", form(f"htmx {n}"), **htmx)
                samples["htmx_post"].append(time.perf_counter() - start)
                assert response.status_code == 200, response.status_code
                start = time.perf_counter()
                response = client.post("/generations/", form(f"plain {n}"))
                samples["plain_post"].append(time.perf_counter() - start)
                assert response.status_code == 302, response.status_code
        enqueued = queued_messages() - before_queue
        saved = Generation.objects.filter(user=user).count() - before_rows - 4
        from generations.health import ROWS_CACHE_KEY

        cold_count = 5 if args.quick else 20
        balance_expired = cold_cache_posts(client, htmx, cold_count, ROWS_CACHE_KEY)
        all_expired = cold_cache_posts(client, htmx, cold_count, None)
        purge()
    result = {
        "part": "submit",
        "method": "in-process django.test.Client",
        "queries_per_htmx_post": queries,
        "sql": sql,
        "htmx_post": summary(samples["htmx_post"]),
        "plain_post": summary(samples["plain_post"]),
        "rows_saved": saved,
        "jobs_enqueued": enqueued,
        "remote_calls_in_timed_loop": len(calls),
        "remote_calls": sorted(set(calls)),
        "balance_expired_htmx_post": balance_expired,
        "all_expired_htmx_post": all_expired,
    }
    emit(args, result)


if __name__ == "__main__":
    main()
