"""Item 7: the worker's memory (RSS, from /proc) while it stores the largest picture the API
makes for Imagen 4 (4:3, 1280x896) and while it refuses decompression bombs (a 30000x30000 PNG
of 110 kB) and an oversized download (40 MiB), then over a long run of jobs: does it grow?

One worker process (8 threads), the app's shared client. Phases: a warm-up of 300 jobs (until
each of the 8 threads has held a decoded picture, so the allocator's per-thread arenas are at
their working size); the hostile batch; then 1,000 jobs in four segments of 250 (every 50th a
bomb), with the idle RSS read after each. Growth is the last reading minus the one before the
long run.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import cli, emit, setup, simulator
from benchmarks.jobs import Worker, make_jobs, rss_mb, run_jobs

LARGEST = "4:3"
PROMPT = "Memory run: the largest picture, a wide valley at noon"


def idle_rss(pid: int, seconds: float = 2.0) -> float:
    samples = []
    for _ in range(int(seconds / 0.1)):
        samples.append(rss_mb(pid))
        time.sleep(0.1)
    return round(statistics.median(samples), 1)


def phase(worker: Worker, prompts: list[str]) -> dict[str, Any]:
    run = run_jobs(make_jobs(prompts, aspect_ratio=LARGEST), worker, timeout=900)
    samples = run.pop("rss_samples_mb")
    return {**run, "peak_rss_mb": round(max(samples), 1)}


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    warmup, segment, segments = (10, 10, 4) if args.quick else (300, 250, 4)
    bombs, huge = (5, 1) if args.quick else (20, 3)
    with simulator(delay=0):
        worker = Worker(args.backend).start()
        try:
            started_rss = idle_rss(worker.pid)
            warm = phase(worker, [PROMPT] * warmup)
            hostile = phase(worker, ["Bomb [sim:bomb]"] * bombs + ["Huge [sim:huge]"] * huge)
            after_warmup = idle_rss(worker.pid)
            series: list[float] = []
            peaks: list[float] = []
            statuses: dict[str, int] = {}
            for _ in range(segments):
                prompts = [
                    f"{PROMPT} [sim:bomb]" if n % 50 == 49 else PROMPT for n in range(segment)
                ]
                run = phase(worker, prompts)
                peaks.append(run["peak_rss_mb"])
                for status, count in dict(run["statuses"]).items():
                    statuses[status] = statuses.get(status, 0) + count
                series.append(idle_rss(worker.pid))
            high_water = round(rss_mb(worker.pid, "VmHWM"), 1)
        finally:
            worker.stop()
    emit(
        args,
        {
            "part": "memory",
            "largest_picture": "4:3 (1280x896), PNG",
            "idle_rss_at_start_mb": started_rss,
            "warmup": warm,
            "hostile": hostile,
            "idle_rss_after_warmup_mb": after_warmup,
            "long_run": {
                "jobs": segment * segments,
                "statuses": statuses,
                "peak_rss_mb": max(peaks),
            },
            "idle_rss_after_each_segment_mb": series,
            "segment_jobs": segment,
            "idle_rss_after_long_run_mb": series[-1],
            "growth_over_long_run_mb": round(series[-1] - after_warmup, 1),
            "worker_high_water_rss_mb": high_water,
        },
    )


if __name__ == "__main__":
    main()
