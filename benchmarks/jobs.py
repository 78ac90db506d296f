"""Running many real jobs through real worker processes: what items 5 and 7 and the scale part
share.

The simulator runs in this process (or, for the scale part, in its own); a worker is
``benchmarks/worker.py`` in a child process on a queue of the run's own, against the backend's
database and broker. Its memory is read from ``/proc/<pid>/status`` while the jobs run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, backend_env, bench_user


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Worker:
    backend: str
    client: str = "shared"
    queue: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    node: str = "bench"  # the node name's first part: workers sharing a queue need their own
    process: subprocess.Popen[str] | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    log: list[str] = field(default_factory=list)

    def start(self, timeout: float = 90) -> Worker:
        from django.conf import settings

        from imagen_site.celery import app

        app.conf.task_default_queue = self.queue
        env = {**os.environ, **backend_env(self.backend)}
        env.update(
            # As in production: with DEBUG on, Django keeps every query of every thread's
            # connection (up to 9,000 each), which reads as memory growth.
            DEBUG="false",
            SECRET_KEY="benchmark-worker-secret-key-not-for-production-use-0123456789",
            BENCH_QUEUE=self.queue,
            BENCH_NODE=f"{self.node}-{self.queue}@%h",
            BENCH_CLIENT=self.client,
            RIVYA_BASE_URL=settings.RIVYA_BASE_URL,
            PYTHONUNBUFFERED="1",
        )
        # As runstack and docs/production.md run workers: two malloc arenas, not one per thread.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        if self.backend != "pg":
            env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "worker.py")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError("the worker did not start:\n" + "".join(self.log[-30:]))
        return self

    def _read(self) -> None:
        assert self.process
        assert self.process.stderr
        for line in self.process.stderr:
            self.log.append(line)
            if " ready." in line:
                self.ready.set()

    @property
    def pid(self) -> int:
        assert self.process
        return self.process.pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def make_jobs(prompts: list[str], aspect_ratio: str = "1:1") -> list[int]:
    """Saved generations (credits reserved), not yet enqueued."""
    from generations import catalog, lifecycle

    model = catalog.find_model("google-imagen4")
    assert model is not None, "the simulator did not list google-imagen4"
    user = bench_user("bench-worker")
    ids = []
    for prompt in prompts:
        generation, _ = lifecycle.create(
            user,
            form_token=uuid.uuid4(),
            model=model,
            prompt=prompt,
            aspect_ratio=aspect_ratio,
            seed=42,  # one seed and prompt: the simulator renders each picture once, then caches
        )
        ids.append(generation.pk)
    return ids


def run_jobs(
    ids: list[int], workers: Worker | Sequence[Worker], timeout: float, sample_every: float = 0.1
) -> dict[str, Any]:
    """Enqueue every job at once and wait until all are finished; sample the workers' RSS
    (their sum, when there are several)."""
    from django.db.models import Count

    from generations import tasks
    from generations.models import Generation, Status

    workers = [workers] if isinstance(workers, Worker) else list(workers)
    samples: list[float] = []
    started = time.perf_counter()
    for pk in ids:
        tasks.enqueue_submit(pk)
    enqueued_s = time.perf_counter() - started
    deadline = started + timeout
    unfinished = Generation.objects.filter(pk__in=ids).exclude(
        status__in=(Status.SUCCEEDED, Status.FAILED)
    )
    next_check = 0.0
    while time.perf_counter() < deadline:
        for worker in workers:
            if worker.process is None or worker.process.poll() is not None:
                raise RuntimeError("a worker died:\n" + "".join(worker.log[-30:]))
        samples.append(sum(rss_mb(worker.pid) for worker in workers))
        now = time.perf_counter()
        if now >= next_check:
            if not unfinished.exists():
                break
            next_check = now + 0.25
        time.sleep(sample_every)
    elapsed = time.perf_counter() - started
    statuses = dict(
        Generation.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("pk"))
    )
    return {
        "jobs": len(ids),
        "statuses": statuses,
        "timed_out": bool(unfinished.exists()),
        "elapsed_s": round(elapsed, 2),
        "enqueue_s": round(enqueued_s, 2),
        "rss_samples_mb": samples,
    }
