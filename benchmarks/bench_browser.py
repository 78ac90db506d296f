"""Items 1 and 8, in a real browser (Playwright driving Debian's Chromium).

Item 1, time to visible: from the moment the simulator marks a task succeeded (its
``succeeded_at``, ``time.time()``) to the moment the card's ``<img>`` has loaded in the page
(``Date.now()`` in the page's load handler; same machine, same clock). The app runs for real:
gunicorn, a Celery worker process and the simulator. Jobs run in batches that alternate between
polling alone and webhooks, so both modes see the same load. Each task's simulated run time is
drawn between 1.5 and 4.5 s, so successes fall at every phase of the worker's poll schedule.

Item 8, the browser's cost: requests to the card refresh endpoint per minute from one open
history page with 5 pending cards, with none pending, and with 5 pending while the tab is hidden
(``document.visibilityState`` overridden to ``hidden`` and ``visibilitychange`` fired, which is
what a browser does when the tab goes to the background).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.common import (
    ROOT,
    WEBHOOK_SECRET,
    backend_env,
    bench_user,
    cli,
    emit,
    logged_in_client,
    setup,
    simulator,
    summary,
)
from benchmarks.jobs import Worker, make_jobs

BATCH = 8
MISSED: list[dict[str, Any]] = []
STAGES: dict[str, dict[str, list[float]]] = {
    mode: {"stored": [], "shown": []} for mode in ("polling", "webhooks")
}
WORKER_POLL_INTERVAL_MAX_S = 2.5  # lifecycle.poll_delay for the first 30 s
BROWSER_REFRESH_S = 1.0  # static/js/app.js REFRESH_MS

WATCH_IMAGES = """
window.__visible = {};
new MutationObserver(() => {
  document.querySelectorAll("article.card .visual img").forEach((img) => {
    const id = img.closest("article.card").id.replace("gen-", "");
    if (window.__visible[id]) return;
    const seen = () => { if (!window.__visible[id]) window.__visible[id] = Date.now(); };
    if (img.complete && img.naturalWidth) seen(); else img.addEventListener("load", seen);
  });
}).observe(document, { childList: true, subtree: true });
"""

HIDE_TAB = """
Object.defineProperty(document, "visibilityState", { get: () => "hidden", configurable: true });
Object.defineProperty(document, "hidden", { get: () => true, configurable: true });
document.dispatchEvent(new Event("visibilitychange"));
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_web(backend: str, port: int, base_url: str) -> subprocess.Popen[bytes]:
    import os

    env = {**os.environ, **backend_env(backend), "RIVYA_BASE_URL": base_url}
    env["RIVYA_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    if backend != "pg":
        env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "imagen_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
            "--access-logfile",
            "/dev/null",  # gunicorn.conf.py logs each request; as before it did, not here
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def browser(playwright: Any) -> Any:
    return playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="bench-chromium-"),
        executable_path=shutil.which("chromium"),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
        viewport={"width": 1400, "height": 4000},  # every card in view, so no image waits lazily
    )


def ttv_batch(sim, page, base: str, mode: str, webhook_url: str) -> list[float]:
    from generations.models import Generation

    if mode == "webhooks":
        sim.set_webhook(webhook_url, WEBHOOK_SECRET)
    else:
        sim.set_webhook(None, None)
    delays = [round(random.uniform(1.5, 4.5), 2) for _ in range(BATCH)]
    ids = make_jobs([f"Time to visible ({mode}) [sim:delay={d}]" for d in delays])
    page.goto(base + "/")
    from generations import tasks

    for pk in ids:
        tasks.enqueue_submit(pk)
    deadline = time.monotonic() + 40
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate("window.__visible")
        if all(str(pk) in seen for pk in ids):
            break
        page.wait_for_timeout(200)
    results = []
    for generation in Generation.objects.filter(pk__in=ids):
        task = sim.state.task(generation.remote_task_id) if generation.remote_task_id else None
        shown = seen.get(str(generation.pk))
        if task is None or task.succeeded_at is None or shown is None:
            results.append(float("inf"))  # never visible within the time limit: counted, not hidden
            MISSED.append(
                {
                    "mode": mode,
                    "status": generation.status,
                    "error": generation.error_code,
                    "task": task.status if task else None,
                    "shown": shown,
                }
            )
            continue
        results.append(shown / 1000 - task.succeeded_at)
        if generation.finished_at is not None:  # where the time went: storing, then showing
            STAGES[mode]["stored"].append(generation.finished_at.timestamp() - task.succeeded_at)
            STAGES[mode]["shown"].append(shown / 1000 - generation.finished_at.timestamp())
    return results


def count_refreshes(page, seconds: float) -> float:
    hits: list[str] = []

    def on_request(request: Any) -> None:
        if "/generations/cards/" in request.url:
            hits.append(request.url)

    page.on("request", on_request)
    page.wait_for_timeout(seconds * 1000)  # lets Playwright deliver the events meanwhile
    page.remove_listener("request", on_request)
    return round(len(hits) * 60 / seconds, 1)


def never_finishing(count: int) -> list[int]:
    from generations import tasks

    ids = make_jobs([f"Browser cost: still going [sim:never] {n}" for n in range(count)])
    for pk in ids:
        tasks.enqueue_submit(pk)
    return ids


def end(ids: list[int]) -> None:
    from generations.models import Generation, Status

    Generation.objects.filter(pk__in=ids).update(status=Status.FAILED, next_check_at=None)


def browser_cost(page, base: str, seconds: float) -> dict[str, float]:
    pending = never_finishing(5)
    page.goto(base + "/")
    page.wait_for_timeout(1500)
    with_pending = count_refreshes(page, seconds)
    end(pending)
    page.goto(base + "/")
    page.wait_for_timeout(1500)
    none_pending = count_refreshes(page, seconds)
    hidden_ids = never_finishing(5)
    page.goto(base + "/")
    page.wait_for_timeout(1500)
    page.evaluate(HIDE_TAB)
    hidden = count_refreshes(page, seconds)
    end(hidden_ids)
    return {
        "per_min_5_pending_visible": with_pending,
        "per_min_none_pending": none_pending,
        "per_min_5_pending_hidden": hidden,
        "window_s": seconds,
    }


def summarise(samples: list[float]) -> dict[str, Any]:
    from benchmarks.common import pct

    never = 1e9  # a job never seen ranks above every other; a percentile that lands there is None
    ms = [s * 1000 if s != float("inf") else never for s in samples]

    def shown(value: float) -> float | None:
        return round(value, 1) if value < never / 10 else None

    return {
        "n": len(samples),
        "never_visible": sum(1 for s in ms if s >= never),
        "p50_ms": shown(pct(ms, 50)),
        "p95_ms": shown(pct(ms, 95)),
        "max_ms": shown(max(ms)),
    }


def main() -> None:
    args = cli(__doc__ or "")
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain
    # blocking calls between page actions, which is what this switch allows.
    setup(args.backend, DJANGO_ALLOW_ASYNC_UNSAFE="true")
    from playwright.sync_api import sync_playwright

    from imagen_site.celery import app

    jobs_per_mode = BATCH if args.quick else 56
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    webhook_url = f"{base}/webhooks/rivya/"
    user = bench_user("bench-worker")
    session = logged_in_client(user).cookies["sessionid"].value
    samples: dict[str, list[float]] = {"polling": [], "webhooks": []}
    with simulator(delay=3) as sim:
        app.control.purge()
        worker = Worker(args.backend, queue="celery").start()
        web = start_web(args.backend, port, sim.base_url)
        try:
            with sync_playwright() as p:
                context = browser(p)
                context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
                context.add_init_script(WATCH_IMAGES)
                page = context.new_page()
                while min(len(v) for v in samples.values()) < jobs_per_mode:
                    for mode in ("polling", "webhooks"):
                        samples[mode] += ttv_batch(sim, page, base, mode, webhook_url)
                cost = browser_cost(page, base, 5 if args.quick else 30)
                context.close()
        finally:
            web.terminate()
            web.wait(timeout=15)
            worker.stop()
            app.control.purge()
    emit(
        args,
        {
            "part": "browser",
            "method": "gunicorn (2 workers x 4 threads) + Celery worker process + Chromium",
            "time_to_visible_polling": summarise(samples["polling"]),
            "time_to_visible_webhooks": summarise(samples["webhooks"]),
            "poll_interval_in_force_s": WORKER_POLL_INTERVAL_MAX_S,
            "browser_refresh_s": BROWSER_REFRESH_S,
            "browser_cost": cost,
            "never_visible_detail": MISSED,
            "stages": {
                mode: {stage: summary(values) for stage, values in stages.items()}
                for mode, stages in STAGES.items()
            },
        },
    )


if __name__ == "__main__":
    main()
