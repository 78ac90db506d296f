"""Item 2: the card refresh endpoint with 1, 10 and 50 pending cards (in-process Django Client).

The three sizes are timed round-robin in one loop, so load on the machine hits them alike.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from benchmarks.common import bench_user, cli, emit, logged_in_client, query_count, setup, summary


def pending_cards(user, count: int) -> list[int]:
    from django.utils import timezone

    from generations.models import Generation, Status

    rows = Generation.objects.bulk_create(
        Generation(
            user=user,
            form_token=uuid.uuid4(),
            prompt=f"Bench pending card {n}: a lantern in fog",
            status=Status.PROCESSING,
            remote_status="processing",
            remote_task_id=f"bench_{uuid.uuid4().hex}",
            next_check_at=timezone.now() + timedelta(days=1),
        )
        for n in range(count)
    )
    return [g.pk for g in rows]


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    import time

    from generations.models import Generation

    user = bench_user()
    client = logged_in_client(user)
    reps = 40 if args.quick else 400
    urls = {}
    made: list[int] = []
    for count in (1, 10, 50):
        ids = pending_cards(user, count)
        made += ids
        urls[count] = "/generations/cards/?" + "&".join(f"id={pk}" for pk in ids)
    try:
        result: dict[str, object] = {}
        for count, url in urls.items():
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            assert response.content.count(b'class="card ') == count, "a card is missing"
            queries, sql = query_count(partial(client.get, url))
            result[f"pending_{count}"] = {"queries": queries, "sql": sql}
        samples: dict[int, list[float]] = {c: [] for c in urls}
        for _ in range(reps):
            for count, url in urls.items():
                start = time.perf_counter()
                client.get(url)
                samples[count].append(time.perf_counter() - start)
        for count in urls:
            entry = result[f"pending_{count}"]
            assert isinstance(entry, dict)
            entry.update(summary(samples[count]))
    finally:
        Generation.objects.filter(pk__in=made).delete()
    emit(args, {"part": "cards", "method": "in-process django.test.Client", **result})


if __name__ == "__main__":
    main()
