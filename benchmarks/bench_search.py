"""Issue 11, "Find": the history page at 100,000 generations with search and each filter, one
member's view as a shared link opens it (the whole page, in-process Django Client).

The rows come from ``manage.py seed_history`` (English and Thai prompts, models, ratios, one
failure in ten, ten members, a year of dates, a star on one row in fifty) and twelve boards, which
every card's "Add to board" menu offers. Every page is timed
round-robin in one loop, and beside it the page's own query alone (``gallery.History.page``),
so that what a filter costs is seen apart from the template; a few are also timed 90 % deep in
their own results (keyset) and a few on page 2 (the first page's Older link), so that "the same
number of queries on every page" is measured,
not assumed. How many rows each
search matches is reported beside it, and the plan of every page's main query is kept in the
raw results. PostgreSQL's statistics are refreshed after seeding (``ANALYZE``), as autovacuum
would; SQLite is left as the app leaves it (no ``ANALYZE``, the search index as written).
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial
from typing import Any

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
# A team's boards: each card's "Add to board" menu offers every one of them.
BOARDS = 12
MEMBER = "seed-member-03"
# What each search finds in the seed: a subject is one prompt in twenty.
SEARCHES = {
    "search_english_word": "q=bicycle",
    "search_two_words": "q=yellow+bicycle",
    "search_thai_word": "q=แมว",
    "search_two_thai_words": "q=ยามเช้า+ภาพ",
    "search_rare_word": "q=giraffe",
    "search_word_in_every_row": "q=benchmarks",
    "search_no_match": "q=unicorn",
    "search_with_short_word": "q=cat+on",
}
DEEP = ("search_english_word", "search_thai_word", "status_failed", "model")
# Page 2, through the Older link's keyset cursor (``before``) of the first page.
SECOND = ("no_filter", "search_english_word", "search_rare_word", "member", "favorites", "mine")


def pages(today: Any) -> dict[str, str]:
    """Every page timed: name → query string (the user is one of the seeded members)."""
    month_start = (today - timedelta(days=180)).replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    day = today - timedelta(days=90)
    filters = {
        "no_filter": "",
        **SEARCHES,
        "member": f"member={MEMBER}",
        "model": "model=google-imagen4-ultra",
        "model_retired_long_ago": "model=google-imagen4-preview",
        "ratio": "ratio=9:16",
        "status_succeeded": "status=succeeded",
        "status_failed": "status=failed",
        "status_pending": "status=pending",
        "dates_one_month": f"from={month_start}&to={month_end}",
        "dates_one_day": f"from={day}&to={day}",
        "favorites": "favorites=1",
        "mine": "who=mine",
        "everything_together": (
            f"q=harbour&member={MEMBER}&model=google-imagen4&ratio=1:1&status=succeeded"
            f"&from={today - timedelta(days=300)}&to={today}&favorites=1&who=everyone"
        ),
        "search_every_row_with_favorites": "q=benchmarks&favorites=1",
        "search_every_row_with_pending": "q=benchmarks&status=pending",
        "search_every_row_with_one_day": f"q=benchmarks&from={day}&to={day}",
        # The worst case on SQLite: a word in every row, and a filter that only the oldest
        # rows pass (the search reads the index newest first until it finds them).
        "search_every_row_with_retired_model": "q=benchmarks&model=google-imagen4-preview",
        # Four filters that together select about 20 rows spread over the whole year.
        "search_every_row_with_four_filters": (
            f"q=benchmarks&member={MEMBER}&model=google-imagen4-ultra&ratio=9:16&status=failed"
        ),
    }
    return {name: f"/?{query}" if query else "/" for name, query in filters.items()}


def history_of(user: Any, url: str) -> Any:
    from django.http import QueryDict

    from generations import gallery
    from generations.views import visible_generations

    return gallery.find(QueryDict(url.partition("?")[2]), user, visible_generations())


def deep_url(user: Any, url: str) -> str:
    """The same page 90 % deep in its own results (the ``before`` an Older link would carry)."""
    ids = list(history_of(user, url).rows().order_by("-pk").values_list("pk", flat=True))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}before={ids[int(len(ids) * 0.9)]}"


def second_url(user: Any, url: str) -> str:
    """Page 2: the ``before`` of the first page's Older link."""
    from generations.views import PAGE_SIZE

    last_shown = history_of(user, url).page(None, PAGE_SIZE + 1)[PAGE_SIZE - 1]
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}before={last_shown.pk}"


def matches(user: Any, url: str) -> int:
    return int(history_of(user, url).rows().count())


def plan(user: Any, url: str) -> str:
    return str(history_of(user, url).page_rows(None, 25).explain())


def page_query(user: Any, url: str) -> Any:
    """The page's own query, alone (what the filter costs, without the template)."""
    before = url.partition("before=")[2]
    history = history_of(user, url)
    return partial(history.page, int(before) if before else None, 25)


def prepare(backend: str) -> dict[str, Any]:
    """Seed, refresh PostgreSQL's statistics, and say what the data is."""
    from django.db import connection

    from generations.models import Board, Favorite, Generation

    started = time.perf_counter()
    call_command("seed_history", count=ROWS)
    for n in range(1, BOARDS + 1):
        Board.objects.get_or_create(name=f"Campaign board {n:02d}")
    seeded_s = time.perf_counter() - started
    if backend == "pg":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE generations_generation")
            cursor.execute("ANALYZE generations_favorite")
    return {
        "rows": Generation.objects.filter(deleted_at__isnull=True).count(),
        "favorites": Favorite.objects.count(),
        "boards": Board.objects.count(),
        "seed_seconds": round(seeded_s, 1),
    }


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    from django.contrib.auth.models import User
    from django.utils import timezone

    result: dict[str, Any] = prepare(args.backend)
    user = User.objects.get(username=MEMBER)
    urls = pages(timezone.localdate())
    urls.update({f"{name}_deep": deep_url(user, urls[name]) for name in DEEP})
    urls.update({f"{name}_page2": second_url(user, urls[name]) for name in SECOND})
    reps = 8 if args.quick else 100
    client = logged_in_client(user)
    with simulator():
        for name, url in urls.items():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            queries, sql = query_count(partial(client.get, url))
            result[name] = {
                "url": url,
                "matches": matches(user, url),
                "shown": response.content.count(b'class="card '),
                "queries": queries,
                "sql": sql,
                "plan": plan(user, url),
            }
        samples: dict[str, list[float]] = {name: [] for name in urls}
        queries_alone: dict[str, list[float]] = {name: [] for name in urls}
        alone = {name: page_query(user, url) for name, url in urls.items()}
        with remote_calls() as calls:
            for _ in range(reps):
                for name, url in urls.items():
                    start = time.perf_counter()
                    client.get(url)
                    samples[name].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    alone[name]()
                    queries_alone[name].append(time.perf_counter() - start)
        for name in urls:
            result[name].update(summary(samples[name]))
            result[name]["query_alone"] = summary(queries_alone[name])
        result["remote_calls_in_timed_loop"] = len(calls)
    result["pages"] = list(urls)
    emit(args, {"part": "search", "method": "in-process django.test.Client", **result})


if __name__ == "__main__":
    main()
