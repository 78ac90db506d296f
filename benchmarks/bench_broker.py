"""The embedded broker: the candidates for a broker that never hands a worker a half-written
message, side by side in one invocation, with kombu's own filesystem transport as the baseline.

- ``atomicfs``: ``imagen_site/broker.py`` (write to a temporary name, rename into place; claim by
  rename), the chosen one.
- ``sqla``: kombu's SQLAlchemy transport on its own SQLite file (WAL, polling every 0.1 s like the
  others; see ``benchmarks/broker_app.py``).
- ``filesystem``: kombu's ``filesystem://``, what the embedded default used before (the baseline).

For each, in rounds whose order rotates, a fresh broker and a real Celery worker process (threads
pool, 8, as runstack runs it) running a no-op task:

1. latency: tasks sent one at a time with 50-150 ms between them, so the worker is idle and
   polling when each arrives, as when a member presses Generate; the task's start minus its send
   time (``time.time()`` in both processes).
2. throughput: 8 threads publish as fast as they can; messages per second published, and
   published and consumed (from the first send to the last task started).

A worker that dies (kombu's filesystem transport does, reading a half-written message) is noted
and its run left out of the figures.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, cli, data_dir, emit, pct

CANDIDATES = ("atomicfs", "sqla", "filesystem")
PUBLISHERS = 8


def broker_of(candidate: str, folder: Path) -> tuple[str, dict[str, Any]]:
    from imagen_site import broker

    if candidate == "sqla":
        return f"sqlabench+sqlite:///{folder / 'broker.sqlite3'}", {"polling_interval": 0.1}
    options = broker.folder_options(folder)
    broker.make_folders(options)
    return ("filesystem://" if candidate == "filesystem" else broker.URL), options


class BenchWorker:
    """``celery -A benchmarks.broker_app worker`` on one candidate, logging to files."""

    def __init__(self, candidate: str, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.url, self.options = broker_of(candidate, folder)
        self.started_log = folder / "started.log"
        self.started_log.touch()
        self.output = folder / "worker.log"
        self.env = {
            **os.environ,
            "BENCH_BROKER_URL": self.url,
            "BENCH_BROKER_OPTIONS": json.dumps(self.options),
            "BENCH_BROKER_LOG": str(self.started_log),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BenchWorker:
        argv = [sys.executable, "-m", "celery", "-A", "benchmarks.broker_app", "worker",
                "--pool", "threads", "--concurrency", "8", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-l", "INFO"]  # fmt: skip
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=out, stderr=out)
        deadline = time.monotonic() + 60
        while b" ready." not in self.output.read_bytes():
            if self.died() or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + self.output.read_text()[-2000:])
            time.sleep(0.05)
        return self

    def died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def started_count(self) -> int:
        return len(self.started_log.read_bytes().splitlines())

    def waits(self) -> list[float]:
        return [float(line) for line in self.started_log.read_text().split()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def publisher(worker: BenchWorker) -> Any:
    """This process's Celery app, pointed at the worker's broker (a fresh pool each time)."""
    from benchmarks import broker_app

    app: Any = broker_app.app
    app._pool = None
    app.__dict__.pop("amqp", None)
    app.conf.broker_url = worker.url
    app.conf.broker_write_url = worker.url
    app.conf.broker_transport_options = worker.options
    return broker_app.started


def wait_started(worker: BenchWorker, count: int, timeout: float) -> bool:
    """True once ``count`` tasks have started; False if the worker died or time ran out."""
    deadline = time.monotonic() + timeout
    while worker.started_count() < count:
        if worker.died() or time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def measure_latency(worker: BenchWorker, task: Any, count: int) -> list[float] | None:
    for _ in range(count):
        task.delay(time.time())
        time.sleep(random.uniform(0.05, 0.15))
    if not wait_started(worker, count, timeout=60):
        return None
    return worker.waits()


def measure_throughput(worker: BenchWorker, task: Any, count: int) -> dict[str, float] | None:
    before = worker.started_count()
    each = count // PUBLISHERS
    barrier = threading.Barrier(PUBLISHERS + 1)

    def publish() -> None:
        barrier.wait()
        for _ in range(each):
            task.delay(time.time())

    threads = [threading.Thread(target=publish) for _ in range(PUBLISHERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    published_s = time.perf_counter() - started
    if not wait_started(worker, before + each * PUBLISHERS, timeout=300):
        return None
    both_s = time.perf_counter() - started
    total = each * PUBLISHERS
    return {"published_per_s": total / published_s, "published_and_consumed_per_s": total / both_s}


def leftovers(candidate: str, folder: Path) -> int:
    """What the broker still keeps once every task ran: message rows or files."""
    if candidate == "sqla":
        with sqlite3.connect(folder / "broker.sqlite3") as db:
            return int(db.execute("SELECT count(*) FROM kombu_message").fetchone()[0])
    return sum(len(os.listdir(folder / name)) for name in ("out", "processed"))


def one_run(candidate: str, folder: Path, latency_n: int, throughput_n: int) -> dict[str, Any]:
    worker = BenchWorker(candidate, folder).start()
    try:
        task = publisher(worker)
        waits = measure_latency(worker, task, latency_n)
        rates = measure_throughput(worker, task, throughput_n) if waits is not None else None
    finally:
        worker.stop()
    died = "Unrecoverable error" in worker.output.read_text(errors="replace")
    return {
        "candidate": candidate,
        "worker_died": died or waits is None or rates is None,
        "error": next(
            (line for line in worker.output.read_text().splitlines() if "Unrecoverable" in line),
            "",
        ),
        "waits_s": waits or [],
        "rates": rates,
        "leftover_messages": leftovers(candidate, folder),
    }


def summarize(runs: list[dict[str, Any]], candidate: str) -> dict[str, Any]:
    mine = [r for r in runs if r["candidate"] == candidate]
    good = [r for r in mine if not r["worker_died"]]
    waits_ms = [w * 1000 for r in good for w in r["waits_s"]]
    rates = [r["rates"] for r in good if r["rates"]]

    def median_of(key: str) -> float | None:
        return round(statistics.median(r[key] for r in rates), 1) if rates else None

    return {
        "runs": len(mine),
        "worker_died": len(mine) - len(good),
        "errors": sorted({r["error"] for r in mine if r["error"]}),
        "latency_n": len(waits_ms),
        "latency_p50_ms": round(statistics.median(waits_ms), 1) if waits_ms else None,
        "latency_p95_ms": round(pct(waits_ms, 95), 1) if waits_ms else None,
        "published_per_s_median": median_of("published_per_s"),
        "published_and_consumed_per_s_median": median_of("published_and_consumed_per_s"),
        "leftover_messages_per_run": [r["leftover_messages"] for r in good],
    }


def main() -> None:
    args = cli(__doc__ or "")
    sys.path.insert(0, str(ROOT))
    rounds, latency_n, throughput_n = (1, 30, 400) if args.quick else (3, 100, 2000)
    base = data_dir() / "broker"
    shutil.rmtree(base, ignore_errors=True)
    runs = []
    for n in range(rounds):
        order = CANDIDATES[n % 3 :] + CANDIDATES[: n % 3]
        for candidate in order:
            folder = base / f"{n}-{candidate}"
            runs.append(one_run(candidate, folder, latency_n, throughput_n))
            print(candidate, {k: v for k, v in runs[-1].items() if k != "waits_s"}, flush=True)
    emit(
        args,
        {
            "part": "broker",
            "rounds": rounds,
            "latency_tasks_per_run": latency_n,
            "throughput_tasks_per_run": throughput_n,
            "candidates": {c: summarize(runs, c) for c in CANDIDATES},
        },
    )


if __name__ == "__main__":
    main()
