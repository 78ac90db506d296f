"""Issue 14: scale. The same jobs through one, two and four Celery worker processes (threads
pool, 8 threads each, all on one queue) against the simulator with no delay: jobs per second
side by side in one invocation, and where the CPU went while they ran.

Rounds rotate the order (1, 2, 4; then 2, 4, 1; then 4, 1, 2; ...), so a change in the
machine's load falls on every count alike; each count's figure is the median of its rounds. The
simulator runs in a process of its own (as Rivya is somewhere else), with one prompt and seed,
so it renders the picture once and then only serves it; the workers still download, check,
store and thumbnail every image and write every row.

Two rates per run: ``jobs_per_s`` is every job over the whole run (enqueue of the first to the
last one finished), which includes the last job's poll wait (2-10 s, whatever the number of
workers: the first poll waits 2 s, and 5-10 s for a job already 30 s old); ``steady_jobs_per_s``
is the jobs that finished between the 10th and the 90th percentile of finish times, divided by
that time: the rate the workers kept up once all were busy. CPU is read from ``/proc``: each
worker's and the simulator's user + system time, this process's, and the whole machine's busy
time (``/proc/stat``; it includes PostgreSQL, Redis and whatever else runs here), each given as
cores used on average over the run (1.0 is one core busy the whole time): the PostgreSQL and
Redis processes' together (anyone's use of them included), and "rest of machine", the machine's
busy time less all of those (anyone else's work). ``worker_cpu_ms_per_job`` is the workers' CPU time
divided by the jobs: what one job costs, whoever runs it.

Where that CPU goes: ``profile`` runs jobs one after another in this process, each step called
as a worker's task calls it (``lifecycle.submit``, then ``lifecycle.poll``), under ``cProfile``
timed by this thread's CPU clock, and adds each function's own time up by what it belongs to
(Pillow, the database, the HTTP client, storage, the studio's code). No broker and no Celery in
it. cProfile's own cost is paid on every Python call, so it inflates Python code (the ORM,
"other") and hardly C code (Pillow's decoding and encoding): read the split as a ranking.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import API_KEY, ROOT, cli, emit, load_average, setup
from benchmarks.jobs import Worker, make_jobs, run_jobs

COUNTS = (1, 2, 4)
PROMPT = "Scale run: a lighthouse on a cliff at dusk"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


SERVERS = ("postgres", "redis-server")  # the database's and the broker's own processes


def servers_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL and Redis process on this machine, by pid (a
    connection's PostgreSQL process appears when it opens: count it from zero)."""
    found = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in SERVERS:
                found[int(comm.parent.name)] = cpu_seconds(int(comm.parent.name))
        except (OSError, ValueError):  # gone meanwhile
            continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


@contextmanager
def simulator_process() -> Iterator[tuple[str, int]]:
    """``python -m rivya_sim`` with no delay on a free port: (base URL, pid)."""
    env = {
        **os.environ,
        "RIVYA_SIM_API_KEY": API_KEY,
        "RIVYA_SIM_DELAY": "0",
        "RIVYA_SIM_CREDITS": "1000000000",
        "RIVYA_SIM_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rivya_sim"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("Rivya simulator on "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield line.removeprefix("Rivya simulator on ").strip(), process.pid
    finally:
        process.terminate()
        process.wait(15)


def steady_rate(ids: list[int]) -> float:
    """Jobs finished between the 10th and 90th percentile of finish times, per second."""
    from generations.models import Generation

    times = sorted(
        t.timestamp()
        for t in Generation.objects.filter(pk__in=ids).values_list("finished_at", flat=True)
        if t is not None
    )
    low, high = len(times) // 10, len(times) * 9 // 10
    if high <= low or times[high] <= times[low]:
        return float("nan")
    return (high - low) / (times[high] - times[low])


KINDS = (  # (what, markers in a function's file or name); the first that matches wins
    ("images (Pillow)", ("/PIL/", "Imaging", "PIL.")),
    ("database", ("/django/db/", "sqlite3", "SQLite", "psycopg")),
    ("HTTP client", ("/httpx/", "/httpcore/", "/h11/", "ssl", "socket", "/anyio/")),
    ("storage", ("/django/core/files/", "/storages/", "/boto", "/s3transfer/", "posix.", "_io.")),
    ("the studio's code", ("/generations/", "/imagen_site/")),
)


def kind_of(filename: str, name: str) -> str:
    where = f"{filename} {name}"
    return next((kind for kind, marks in KINDS if any(m in where for m in marks)), "other")


def profile(count: int) -> dict[str, Any]:
    """CPU of ``count`` jobs run one after another in this thread, split by what it went to."""
    from generations import lifecycle
    from generations.models import Generation, Status

    ids = make_jobs([PROMPT] * count)
    unfinished = Generation.objects.exclude(status__in=(Status.SUCCEEDED, Status.FAILED))
    profiler = cProfile.Profile(time.thread_time)
    for pk in ids:
        profiler.enable()
        lifecycle.submit(pk)
        profiler.disable()
        # With no delay the simulator has the image at once, or a moment later: look again
        # (as a worker would) until it is stored. Waiting costs this thread no CPU.
        for _ in range(100):
            profiler.enable()
            lifecycle.poll(pk, force=True)
            profiler.disable()  # the look at the row is the benchmark's, not the job's
            if not unfinished.filter(pk=pk).exists():
                break
            time.sleep(0.01)
    totals: dict[str, float] = {}
    stats: Any = pstats.Stats(profiler)
    for (filename, _, name), row in stats.stats.items():
        kind = kind_of(filename, name)
        totals[kind] = totals.get(kind, 0.0) + row[2]  # the function's own time
    done = Generation.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
    return {
        "jobs": count,
        "succeeded": done,
        "cpu_ms_per_job": round(1000 * sum(totals.values()) / count, 1),
        "by_kind_ms_per_job": {
            kind: round(1000 * seconds / count, 1)
            for kind, seconds in sorted(totals.items(), key=lambda item: -item[1])
        },
    }


def one_run(backend: str, processes: int, count: int, sim_pid: int) -> dict[str, Any]:
    ids = make_jobs([PROMPT] * count)
    queue = f"bench-scale-{uuid.uuid4().hex[:8]}"
    workers: list[Worker] = []
    try:
        for n in range(processes):
            workers.append(Worker(backend, queue=queue, node=f"scale{n + 1}").start())
        load_before = load_average()
        cpu_before = {w.pid: cpu_seconds(w.pid) for w in workers}
        sim_before, own_before = cpu_seconds(sim_pid), cpu_seconds(os.getpid())
        busy_before, total_before = machine_busy()
        servers_before = servers_cpu()
        run = run_jobs(ids, workers, timeout=900)
        elapsed = float(run["elapsed_s"])
        worker_cpu = [cpu_seconds(w.pid) - cpu_before[w.pid] for w in workers]
        sim_cpu = cpu_seconds(sim_pid) - sim_before
        own_cpu = cpu_seconds(os.getpid()) - own_before
        servers_after = servers_cpu()
        server_cpu = sum(t - servers_before.get(pid, 0.0) for pid, t in servers_after.items())
        busy_after, total_after = machine_busy()
    finally:
        for worker in workers:
            worker.stop()
    cores = os.cpu_count() or 1
    busy = busy_after - busy_before
    return {
        "processes": processes,
        "threads_each": 8,
        "jobs": count,
        "statuses": run["statuses"],
        "timed_out": run["timed_out"],
        "elapsed_s": elapsed,
        "jobs_per_s": round(count / elapsed, 2),
        "steady_jobs_per_s": round(steady_rate(ids), 2),
        "worker_cpu_ms_per_job": round(1000 * sum(worker_cpu) / count, 1),
        "cores_used": {
            "workers": round(sum(worker_cpu) / elapsed, 2),
            "each_worker": [round(c / elapsed, 2) for c in worker_cpu],
            "simulator": round(sim_cpu / elapsed, 2),
            "this_process": round(own_cpu / elapsed, 2),
            "postgres_and_redis": round(server_cpu / elapsed, 2),
            "machine": round(busy / elapsed, 2),
            "rest_of_machine": round(
                (busy - sum(worker_cpu) - sim_cpu - own_cpu - server_cpu) / elapsed, 2
            ),
        },
        "machine_busy_pct": round(100 * busy / max(1e-9, total_after - total_before), 1),
        "cores": cores,
        "load_before": load_before,
        "load_after": load_average(),
        "workers_peak_rss_mb": round(max(run["rss_samples_mb"]), 1),
    }


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in runs), 2)


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    count, rounds = (40, 1) if args.quick else (300, 5)
    from django.conf import settings

    from generations import rivya

    runs: list[dict[str, Any]] = []
    with simulator_process() as (base_url, sim_pid):
        settings.RIVYA_BASE_URL = base_url  # what Worker.start hands the worker processes
        rivya.reset_client()
        where = profile(20 if args.quick else 100)
        for n in range(rounds):
            order = COUNTS[n % len(COUNTS) :] + COUNTS[: n % len(COUNTS)]
            for processes in order:
                print(f"round {n + 1}: {processes} worker process(es)", flush=True)
                runs.append({"round": n + 1, **one_run(args.backend, processes, count, sim_pid)})
    by_count = {
        str(p): {
            "runs": len(mine),
            "jobs_per_s_median": median_of(mine, "jobs_per_s"),
            "steady_jobs_per_s_median": median_of(mine, "steady_jobs_per_s"),
            "jobs_per_s_each_run": [r["jobs_per_s"] for r in mine],
            "steady_jobs_per_s_each_run": [r["steady_jobs_per_s"] for r in mine],
            "workers_cores_median": round(
                statistics.median(r["cores_used"]["workers"] for r in mine), 2
            ),
            "simulator_cores_median": round(
                statistics.median(r["cores_used"]["simulator"] for r in mine), 2
            ),
            "machine_busy_pct_median": round(
                statistics.median(r["machine_busy_pct"] for r in mine), 1
            ),
            "postgres_and_redis_cores_median": round(
                statistics.median(r["cores_used"]["postgres_and_redis"] for r in mine), 2
            ),
            "rest_of_machine_cores_median": round(
                statistics.median(r["cores_used"]["rest_of_machine"] for r in mine), 2
            ),
            "worker_cpu_ms_per_job_median": median_of(mine, "worker_cpu_ms_per_job"),
        }
        for p in COUNTS
        for mine in [[r for r in runs if r["processes"] == p]]
    }
    one = by_count["1"]["steady_jobs_per_s_median"]
    emit(
        args,
        {
            "part": "scale",
            "jobs_per_run": count,
            "rounds": rounds,
            "by_processes": by_count,
            "one_thread_profile": where,
            "steady_speedup_over_one": {
                p: round(by_count[p]["steady_jobs_per_s_median"] / one, 2) for p in by_count
            },
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
