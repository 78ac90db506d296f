"""Item 3: the history page at 100,000 generations, first page and a page deep in the history
(keyset pagination), everyone's and the member's own (in-process Django Client).

The rows come from ``manage.py seed_history`` (images shared by reference). The four pages are
timed round-robin in one loop. The model list and the balance are cached as after any first
visit; remote calls made inside the timed loop are counted and reported, not hidden.
"""

from __future__ import annotations

import time
from functools import partial

from django.core.management import call_command

from benchmarks.common import (
    cli,
    emit,
    logged_in_client,
    query_count,
    remote_calls,
    setup,
    simulator,
    summary,
)

ROWS = 100_000


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    from generations.models import Generation

    started = time.perf_counter()
    call_command("seed_history", count=ROWS)
    seeded_s = time.perf_counter() - started
    reps = 20 if args.quick else 300
    visible = Generation.objects.filter(deleted_at__isnull=True)
    total = visible.count()
    deep_id = visible.order_by("-pk").values_list("pk", flat=True)[int(total * 0.9)]
    member = Generation.objects.filter(prompt__startswith="Seeded").values("user").first()
    assert member is not None
    from django.contrib.auth.models import User

    user = User.objects.get(pk=member["user"])
    mine = Generation.objects.filter(user=user).order_by("-pk").values_list("pk", flat=True)
    mine_deep = mine[int(mine.count() * 0.9)]
    pages = {
        "first_page": "/",
        "deep_page": f"/?before={deep_id}",
        "mine_first_page": "/?who=mine",
        "mine_deep_page": f"/?who=mine&before={mine_deep}",
    }
    client = logged_in_client(user)
    with simulator():
        result: dict[str, object] = {"rows": total, "seed_seconds": round(seeded_s, 1)}
        for name, url in pages.items():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert response.content.count(b'class="card ') == 24, f"{url} did not show 24 cards"
            queries, sql = query_count(partial(client.get, url))
            result[name] = {"url": url, "queries": queries, "sql": sql}
        samples: dict[str, list[float]] = {name: [] for name in pages}
        with remote_calls() as calls:
            for _ in range(reps):
                for name, url in pages.items():
                    start = time.perf_counter()
                    client.get(url)
                    samples[name].append(time.perf_counter() - start)
        for name in pages:
            entry = result[name]
            assert isinstance(entry, dict)
            entry.update(summary(samples[name]))
        result["remote_calls_in_timed_loop"] = len(calls)
    emit(args, {"part": "history", "method": "in-process django.test.Client", **result})


if __name__ == "__main__":
    main()
