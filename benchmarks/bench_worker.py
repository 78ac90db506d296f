"""Item 5: worker throughput. Jobs all in flight at once through one worker process (8 threads)
against the simulator with no artificial delay: polls and tasks per second, and TCP connections
opened to the simulator. The same run with a new HTTP client per API call is the baseline; both
run in this one invocation, one after the other, so the ratio is taken under the same load.

The simulator counts every TCP connection it accepts, result downloads included. The
downloader opens one per image by design (each fetch is checked and pinned on its own), so the
connections to the API are ``connections_opened - images downloaded``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import cli, emit, setup, simulator
from benchmarks.jobs import Worker, make_jobs, run_jobs


def one_run(sim, backend: str, client: str, count: int) -> dict[str, Any]:
    sim.state.reset()
    ids = make_jobs([f"Throughput run: a paper boat on a pond ({client})"] * count)
    before = sim.state.snapshot()
    worker = Worker(backend, client=client).start()
    try:
        run = run_jobs(ids, worker, timeout=600)
    finally:
        worker.stop()
    state = sim.state
    downloads = int(run["statuses"].get("succeeded", 0))
    calls = state.create_requests + state.get_requests
    connections = state.connections_opened - before["connections_opened"]
    elapsed = float(run["elapsed_s"])
    return {
        "client": client,
        "jobs": count,
        "statuses": run["statuses"],
        "timed_out": run["timed_out"],
        "elapsed_s": elapsed,
        "jobs_per_s": round(count / elapsed, 2),
        "create_requests": state.create_requests,
        "poll_requests": state.get_requests,
        "polls_per_s": round(state.get_requests / elapsed, 2),
        "api_calls_per_s": round(calls / elapsed, 2),
        "connections_opened_total": connections,
        "result_downloads": downloads,
        "api_connections": connections - downloads,
        "api_calls_per_api_connection": round(calls / max(1, connections - downloads), 1),
        "worker_peak_rss_mb": round(max(run["rss_samples_mb"]), 1),
    }


def main() -> None:
    args = cli(__doc__ or "")
    setup(args.backend)
    count = 40 if args.quick else 1000
    with simulator(delay=0) as sim:
        runs = [one_run(sim, args.backend, client, count) for client in ("shared", "fresh")]
    shared, fresh = runs
    emit(
        args,
        {
            "part": "worker",
            "runs": runs,
            "ratio_fresh_over_shared_api_connections": round(
                int(fresh["api_connections"]) / max(1, int(shared["api_connections"])), 1
            ),
            "ratio_shared_over_fresh_jobs_per_s": round(
                float(shared["jobs_per_s"]) / float(fresh["jobs_per_s"]), 2
            ),
        },
    )


if __name__ == "__main__":
    main()
