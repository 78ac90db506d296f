"""Item 9: the home page, the usage page and the card refresh while Rivya is healthy, hangs
(accepts every call, answers none) or answers garbage (502 with an HTML body), side by side in one
run (in-process Django Client).

For each condition the simulator is broken that way and what a worker would learn under it is
kept (the refresh tasks run against it: a hanging Rivya costs them their whole deadline; then the
outage banner shows, as no call has succeeded since). The timed loop then goes round the three
conditions in short blocks (each page a few times), putting back each condition's kept rows and
the simulator's fault before its block, so load on the machine hits the three alike; the first
request of a block reads the kept rows from the database, as a process does every few seconds.
Every request any ``httpx.Client`` sends in the timed loop is counted: the floor is none.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

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
)

CONDITIONS = ("healthy", "hangs", "garbage")
BANNER = b"has not been working since"


def break_rivya(sim: Any, condition: str) -> None:
    sim.faults.reset()
    if condition == "hangs":
        sim.faults.timeout(count=-1, seconds=60)
    elif condition == "garbage":
        sim.faults.non_json(count=-1)


def learn_under(sim: Any, condition: str) -> list[dict[str, Any]]:
    """What the workers keep while Rivya is in ``condition``: the kept rows, to put back."""
    from generations import catalog, health
    from generations.models import RivyaSnapshot

    break_rivya(sim, condition)
    catalog.refresh_models()
    health.refresh_balance()
    rows = RivyaSnapshot.objects.values("key", "value", "fetched_at")
    return [dict(row) for row in rows]


def put_back(sim: Any, condition: str, rows: list[dict[str, Any]]) -> None:
    from django.core.cache import cache

    from generations.models import RivyaSnapshot

    break_rivya(sim, condition)
    RivyaSnapshot.objects.all().delete()
    RivyaSnapshot.objects.bulk_create(RivyaSnapshot(**row) for row in rows)
    cache.clear()  # each block starts as a process whose cached copy just ran out


def pending_cards(user: Any, count: int) -> list[int]:
    from django.utils import timezone

    from generations.models import Generation, Status

    rows = Generation.objects.bulk_create(
        Generation(
            user=user,
            form_token=uuid.uuid4(),
            prompt=f"Bench waiting card {n}",
            status=Status.QUEUED,
            submit_attempts=2,
            next_check_at=timezone.now() + timedelta(days=1),
        )
        for n in range(count)
    )
    return [g.pk for g in rows]


def timed_rounds(sim: Any, kept: dict[str, Any], pages: dict[str, Any], args: Any) -> Any:
    # Short blocks, many rounds: a burst of load on this shared machine lands on all three.
    rounds, block = (6, 3) if args.quick else (60, 5)
    samples: dict[str, list[float]] = {f"{p}_{c}": [] for p in pages for c in CONDITIONS}
    with remote_calls() as calls:
        for _ in range(rounds):
            for condition in CONDITIONS:
                put_back(sim, condition, kept[condition])
                for page, get in pages.items():
                    for _ in range(block):
                        start = time.perf_counter()
                        get()
                        samples[f"{page}_{condition}"].append(time.perf_counter() - start)
    return samples, calls


def main() -> None:
    args = cli(__doc__ or "")
    # A hanging Rivya costs a refresh its whole deadline; 2 s keeps the setup short.
    setup(args.backend, RIVYA_READ_TIMEOUT="2", RIVYA_TOTAL_TIMEOUT="2")
    from django.conf import settings

    from generations.models import Generation, LedgerEntry

    settings.RIVYA_DOWN_AFTER_SECONDS = 0.001  # the banner shows as soon as a call has failed
    member, admin = bench_user("bench-rivya"), bench_user("bench-rivya-admin", staff=True)
    client, admin_client = logged_in_client(member), logged_in_client(admin)
    ids = pending_cards(member, 10)
    cards_url = "/generations/cards/?" + "&".join(f"id={pk}" for pk in ids)
    pages = {
        "home": lambda: client.get("/"),
        "usage": lambda: admin_client.get("/usage/"),
        "cards": lambda: client.get(cards_url),
    }
    try:
        with simulator() as sim:
            kept = {c: learn_under(sim, c) for c in CONDITIONS}
            result: dict[str, Any] = {"banner_shown": {}, "queries": {}}
            for condition in CONDITIONS:
                put_back(sim, condition, kept[condition])
                shown = BANNER in client.get(cards_url).content
                result["banner_shown"][condition] = shown
                for page, get in pages.items():
                    get()  # counted warm, as the timed loop mostly runs
                    result["queries"][f"{page}_{condition}"] = query_count(get)[0]
            samples, calls = timed_rounds(sim, kept, pages, args)
    finally:
        Generation.objects.filter(pk__in=ids).delete()
    for name, values in samples.items():
        result[name] = summary(values)
    result.update(remote_calls_in_timed_loop=len(calls), remote_calls=sorted(set(calls)))
    result["ledger_rows"] = LedgerEntry.objects.count()  # what the usage page sums
    emit(args, {"part": "rivya", "method": "in-process django.test.Client", **result})


if __name__ == "__main__":
    main()
