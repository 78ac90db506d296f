"""Item 2: the card refresh endpoint with 1, 10 and 50 pending cards (in-process Django Client).

Three ways of asking, for each size (issue 10, "The page's refresh"):

- ``all``: ``id=<pk>`` for each card, no versions: every card drawn, as every refresh did
  before the page said what it had (and as the endpoint still answers a request like it);
- ``unchanged``: ``id=<pk>:<version>`` and ``banner=<state>`` as the page has them, nothing
  changed since: an empty 204;
- ``one_changed``: the same, with one card's version not the row's (as after a worker's
  UPDATE): that one card and the banner.

Bytes are the response body. Every size and way is timed round-robin in one loop, so load on
the machine hits them alike.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from benchmarks.common import bench_user, cli, emit, logged_in_client, query_count, setup, summary

WAYS = ("all", "unchanged", "one_changed")


def pending_cards(user: Any, count: int) -> list[int]:
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


def urls_for(ids: list[int]) -> dict[str, str]:
    """The three ways of asking for the cards ``ids``, the versions read as a page has them."""
    from generations import health
    from generations.models import Generation
    from generations.templatetags.studio import banner_state

    versions = {g.pk: g.version for g in Generation.objects.filter(pk__in=ids)}
    banner = f"banner={banner_state(health.outage())}"
    seen = [f"id={pk}:{versions[pk]}" for pk in ids]
    stale = [f"id={ids[0]}:0", *seen[1:]]  # "0": a version the row no longer has
    return {
        "all": "/generations/cards/?" + "&".join(f"id={pk}" for pk in ids),
        "unchanged": "/generations/cards/?" + "&".join([*seen, banner]),
        "one_changed": "/generations/cards/?" + "&".join([*stale, banner]),
    }


EXPECTED = {"all": (200, None), "unchanged": (204, 0), "one_changed": (200, 1)}


def check(client: Any, url: str, way: str, count: int) -> int:
    """The answer is what the way should get; returns its body's length in bytes."""
    response = client.get(url)
    status, cards = EXPECTED[way]
    assert response.status_code == status, (way, count, response.status_code)
    drawn = response.content.count(b'class="card ')
    assert drawn == (count if cards is None else cards), (way, count, drawn)
    return len(response.content)


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    import time

    from generations.models import Generation

    user = bench_user()
    client = logged_in_client(user)
    reps = 40 if args.quick else 400
    urls: dict[tuple[int, str], str] = {}
    made: list[int] = []
    for count in (1, 10, 50):
        ids = pending_cards(user, count)
        made += ids
        urls.update({(count, way): url for way, url in urls_for(ids).items()})
    try:
        result: dict[str, Any] = {}
        for (count, way), url in urls.items():
            size = check(client, url, way, count)
            queries, sql = query_count(partial(client.get, url))
            name = f"pending_{count}" if way == "all" else f"{way}_{count}"
            result[name] = {"bytes": size, "queries": queries, "sql": sql}
        samples: dict[tuple[int, str], list[float]] = {key: [] for key in urls}
        for _ in range(reps):
            for key, url in urls.items():
                start = time.perf_counter()
                client.get(url)
                samples[key].append(time.perf_counter() - start)
        for (count, way), timings in samples.items():
            result[f"pending_{count}" if way == "all" else f"{way}_{count}"].update(
                summary(timings)
            )
    finally:
        Generation.objects.filter(pk__in=made).delete()
    emit(args, {"part": "cards", "method": "in-process django.test.Client", **result})


if __name__ == "__main__":
    main()
