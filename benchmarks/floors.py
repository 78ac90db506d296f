"""The issue's floors, and the table that puts each figure beside its floor."""

from __future__ import annotations

from typing import Any

GROWTH_TOLERANCE_MB = 10.0  # "no growth": within the noise of the allocator, not a trend
MIN_CALLS_PER_CONNECTION = 10.0  # "connections reused, not one per call"

Row = tuple[str, str, str, str, str, str]


def _met(ok: bool) -> str:
    return "yes" if ok else "**MISSED**"


def _ms(value: Any) -> str:
    return "never" if value is None else f"{value:.1f} ms"


def _browser(r: dict[str, Any], b: str) -> list[Row]:
    poll_floor = (r["poll_interval_in_force_s"] + 1) * 1000
    rows = []
    for mode, floor in (("polling", poll_floor), ("webhooks", 1500.0)):
        s = r[f"time_to_visible_{mode}"]
        ok = s["p95_ms"] is not None and s["p95_ms"] <= floor and not s["never_visible"]
        rows.append(
            (
                "1 time to visible",
                b,
                f"{mode}, {s['n']} jobs",
                f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}",
                f"p95 ≤ {floor:.0f} ms",
                _met(ok),
            )
        )
    c = r["browser_cost"]
    rows.append(
        (
            "8 browser cost",
            b,
            "refresh requests/min: 5 pending / none / 5 pending, tab hidden",
            f"{c['per_min_5_pending_visible']} / {c['per_min_none_pending']} / "
            f"{c['per_min_5_pending_hidden']}",
            "0 when none pending or hidden",
            _met(c["per_min_none_pending"] == 0 and c["per_min_5_pending_hidden"] == 0),
        )
    )
    return rows


def _cards(r: dict[str, Any], b: str) -> list[Row]:
    rows = []
    counts = {r[f"pending_{n}"]["queries"] for n in (1, 10, 50)}
    for n in (1, 10, 50):
        s = r[f"pending_{n}"]
        ok = len(counts) == 1 and s["queries"] <= 3 and (b != "SQLite" or s["p95_ms"] <= 25)
        rows.append(
            (
                "2 card refresh",
                b,
                f"{n} pending, {s['queries']} queries",
                f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}",
                "≤ 3 queries, same for all; p95 ≤ 25 ms (SQLite)",
                _met(ok),
            )
        )
    return rows + _card_versions(r, b)


def _card_versions(r: dict[str, Any], b: str) -> list[Row]:
    """The refresh with the page's versions (issue 10) beside the old ask for every card."""
    rows = []
    for n in (1, 10, 50):
        old, same, one = r[f"pending_{n}"], r[f"unchanged_{n}"], r[f"one_changed_{n}"]
        rows.append(
            (
                "2 card refresh, versions",
                b,
                f"{n} pending: all cards / nothing changed / one changed, bytes",
                f"{old['bytes']:,} / {same['bytes']:,} / {one['bytes']:,}; p50 "
                f"{_ms(old['p50_ms'])} / {_ms(same['p50_ms'])} / {_ms(one['p50_ms'])}",
                "nothing changed: 0 bytes (204)",
                _met(same["bytes"] == 0),
            )
        )
    return rows


def _history(r: dict[str, Any], b: str) -> list[Row]:
    names = ("first_page", "deep_page", "mine_first_page", "mine_deep_page")
    counts = {r[n]["queries"] for n in names}
    return [
        (
            "3 history",
            b,
            f"{r['rows']:,} rows, {n.replace('_', ' ')}, {r[n]['queries']} queries",
            f"p50 {_ms(r[n]['p50_ms'])}, p95 {_ms(r[n]['p95_ms'])}",
            "p95 ≤ 150 ms, constant queries",
            _met(len(counts) == 1 and r[n]["p95_ms"] <= 150),
        )
        for n in names
    ]


def _search(r: dict[str, Any], b: str) -> list[Row]:
    """Issue 11: every filter and search, p95 ≤ 150 ms; a page deep in a filter's results
    makes as many queries as its first page."""
    rows = []
    for name in r["pages"]:
        s = r[name]
        first = r.get(name.removesuffix("_deep").removesuffix("_page2"), s)
        constant = s["queries"] == first["queries"]
        rows.append(
            (
                "9 history filters",
                b,
                f"{r['rows']:,} rows, {name.replace('_', ' ')} ({s['matches']:,} match), "
                f"{s['queries']} queries",
                f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])} "
                f"(its query alone: p95 {_ms(s['query_alone']['p95_ms'])})",
                "p95 ≤ 150 ms, queries as on the first page",
                _met(s["p95_ms"] <= 150 and constant),
            )
        )
    return rows


def _submit(r: dict[str, Any], b: str) -> list[Row]:
    enqueued = r["jobs_enqueued"] == r["rows_saved"]
    extra: list[Row] = []
    for key, what in (
        ("balance_expired_htmx_post", "the kept Rivya state left the cache"),
        ("all_expired_htmx_post", "the whole cache was cleared"),
    ):
        cold = r.get(key)
        if not cold:
            continue
        extra.append(
            (
                "4 submit",
                b,
                f"htmx post just after {what}; remote calls {cold['remote_calls']} "
                f"in {cold['n']} posts",
                f"p50 {_ms(cold['p50_ms'])}, p95 {_ms(cold['p95_ms'])}",
                "p95 ≤ 60 ms, no remote call",
                _met(cold["p95_ms"] <= 60 and cold["remote_calls"] == 0),
            )
        )
    return extra + [
        (
            "4 submit",
            b,
            f"{kind.replace('_', ' ')}; remote calls {r['remote_calls_in_timed_loop']}, "
            f"{r['jobs_enqueued']}/{r['rows_saved']} enqueued",
            f"p50 {_ms(r[kind]['p50_ms'])}, p95 {_ms(r[kind]['p95_ms'])}",
            "p95 ≤ 60 ms, no remote call",
            _met(r[kind]["p95_ms"] <= 60 and r["remote_calls_in_timed_loop"] == 0 and enqueued),
        )
        for kind in ("htmx_post", "plain_post")
    ]


def _worker(r: dict[str, Any], b: str) -> list[Row]:
    rows = []
    for run in r["runs"]:
        per_connection = run["api_calls_per_api_connection"]
        shared = run["client"] == "shared"
        rows.append(
            (
                "5 worker",
                b,
                f"{run['jobs']} jobs, {run['client']} client" + ("" if shared else " (baseline)"),
                f"{run['jobs_per_s']} jobs/s, {run['polls_per_s']} polls/s, "
                f"{run['api_connections']} API connections ({per_connection} calls each)",
                "connections reused" if shared else "(baseline, no floor)",
                _met(per_connection >= MIN_CALLS_PER_CONNECTION) if shared else "-",
            )
        )
    return rows


def _scale(r: dict[str, Any], b: str) -> list[Row]:
    """Issue 14: no floor; the figures side by side, each count's median of its rounds."""
    rows = []
    for processes, c in r["by_processes"].items():
        speedup = r["steady_speedup_over_one"][processes]
        rows.append(
            (
                "14 scale",
                b,
                f"{processes} worker process(es), 8 threads each, {r['jobs_per_run']} jobs, "
                f"median of {c['runs']}",
                f"{c['steady_jobs_per_s_median']} jobs/s steady ({speedup}x one), "
                f"{c['jobs_per_s_median']} over the whole run; {c['worker_cpu_ms_per_job_median']}"
                f" ms worker CPU a job; cores: workers {c['workers_cores_median']}, simulator "
                f"{c['simulator_cores_median']}, PostgreSQL + Redis "
                f"{c['postgres_and_redis_cores_median']}, the rest "
                f"{c['rest_of_machine_cores_median']}; "
                f"machine {c['machine_busy_pct_median']} % busy",
                "(measured, no floor)",
                "-",
            )
        )
    return rows


def _usage(r: dict[str, Any], b: str) -> list[Row]:
    rows: list[Row] = []
    for name, what in (
        ("usage_30_days", "30 days, chart by member"),
        ("usage_by_model", "30 days, chart by model"),
        ("usage_me", "a member's own page, 30 days"),
    ):
        s = r[name]
        rows.append(
            (
                "6 usage page",
                b,
                f"{r['ledger_rows']:,} ledger rows, {what}, {r[name + '_queries']} queries",
                f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}",
                "≤ 300 ms (PostgreSQL)",
                _met(s["p95_ms"] <= 300) if b != "SQLite" else "(floor is for PostgreSQL)",
            )
        )
    for name, what in (("export_30_days", "30 days"), ("export_year", "a year")):
        e = r[name]
        rows.append(
            (
                "12 CSV export",
                b,
                f"{r['ledger_rows']:,} ledger rows, {what}: {e['rows']:,} rows, {e['mb']} MB",
                f"first byte {e['first_byte_ms']} ms, first row {e['first_row_ms']} ms, "
                f"all {e['total_s']} s; RSS high water {e['rss_high_water_mb']} MB "
                f"(before {e['rss_before_mb']}), Python peak {e['python_peak_mb']} MB",
                "first byte ≤ 300 ms, memory flat",
                _met(e["first_byte_ms"] <= 300 and e["first_row_ms"] <= 300),
            )
        )
    return rows


def _memory(r: dict[str, Any], b: str) -> list[Row]:
    growth = r["growth_over_long_run_mb"]
    peak = r["worker_high_water_rss_mb"]
    return [
        (
            "7 memory",
            b,
            f"largest picture + bombs, then {r['long_run']['jobs']} jobs",
            f"high water {peak} MB; idle {r['idle_rss_after_warmup_mb']} → "
            f"{r['idle_rss_after_long_run_mb']} MB (growth {growth} MB)",
            f"≤ 250 MB, growth ≤ {GROWTH_TOLERANCE_MB:.0f} MB",
            _met(peak <= 250 and growth <= GROWTH_TOLERANCE_MB),
        )
    ]


def _boards(r: dict[str, Any], b: str) -> list[Row]:
    rows = []
    for run in r["runs"]:
        whole = run["all_members_present"] and run["crc_ok"] and run["content_length_matches"]
        rows.append(
            (
                "9 board zip",
                b,
                f"{run['images']} images of ~1 MiB, {run['zip_mib']} MiB streamed",
                f"RSS {run['rss_before_mb']} → peak {run['peak_rss_mb']} MB "
                f"(+{run['peak_growth_mb']} MB); first byte {_ms(run['time_to_first_byte_ms'])}, "
                f"total {run['total_s']} s; zip {'whole' if whole else '**BROKEN**'}",
                f"growth ≤ {GROWTH_TOLERANCE_MB:.0f} MB at every size, zip whole",
                _met(run["peak_growth_mb"] <= GROWTH_TOLERANCE_MB and whole),
            )
        )
    control = r["control_kept_in_memory"]
    rows.append(
        (
            "9 board zip",
            b,
            f"control: {control['images']} images kept in memory",
            f"+{control['peak_growth_mb']} MB for {control['zip_mib']} MiB",
            "(shows the measure sees growth)",
            "-",
        )
    )
    return rows


def _broker(r: dict[str, Any], b: str) -> list[Row]:
    rows = []
    for name, c in r["candidates"].items():
        chosen = name == "atomicfs"
        rows.append(
            (
                "embedded broker",
                b,
                f"{name}{' (chosen)' if chosen else ''}, {c['runs']} runs, "
                f"worker died in {c['worker_died']}",
                f"start after send p50 {_ms(c['latency_p50_ms'])}, p95 {_ms(c['latency_p95_ms'])}; "
                f"{c['published_and_consumed_per_s_median']} msg/s published and consumed",
                "no worker dies",
                _met(c["worker_died"] == 0) if chosen else "(candidate)",
            )
        )
    return rows


def _rivya(r: dict[str, Any], b: str) -> list[Row]:
    """Each page with Rivya hanging or answering garbage, beside the same page when it is
    healthy (one run, round-robin blocks)."""
    rows = []
    calls = r["remote_calls_in_timed_loop"]
    for page in ("home", "usage", "cards"):
        healthy = r[f"{page}_healthy"]
        for condition in ("healthy", "hangs", "garbage"):
            s = r[f"{page}_{condition}"]
            banner = "banner" if r["banner_shown"][condition] else "no banner"
            queries = r["queries"][f"{page}_{condition}"]
            limit = healthy["p95_ms"] * 1.5 + 5
            ok = calls == 0 and (condition == "healthy" or s["p95_ms"] <= limit)
            rows.append(
                (
                    "9 pages, Rivya down",
                    b,
                    f"{page}, Rivya {condition} ({banner}, {queries} queries warm); "
                    f"remote calls {calls}",
                    f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}",
                    "no remote call"
                    if condition == "healthy"
                    else f"p95 ≤ {limit:.1f} ms (healthy p95 x 1.5 + 5 ms), no remote call",
                    _met(ok),
                )
            )
    return rows


BUILDERS = {
    "browser": _browser,
    "cards": _cards,
    "history": _history,
    "search": _search,
    "submit": _submit,
    "worker": _worker,
    "scale": _scale,
    "usage": _usage,
    "memory": _memory,
    "boards": _boards,
    "broker": _broker,
    "rivya": _rivya,
}


def table(report: dict[str, Any]) -> str:
    lines = [
        "| Item | Backend | Measure | Figure | Floor | Met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows: list[Row] = []
    for result in report["results"]:
        backend = "SQLite" if result["backend"] == "sqlite" else "PostgreSQL + Redis"
        if "error" in result:
            rows.append((result["part"], backend, "did not finish", "-", "-", "**ERROR**"))
            continue
        rows += BUILDERS[result["part"]](result, backend)
    rows.sort(key=lambda row: row[0])
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
