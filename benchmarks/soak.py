"""The soak: many generations through real workers while things go wrong, then the books.

    .venv/bin/python benchmarks/soak.py --generations 1000 --minutes 15

What it does (a script that measures, not a test): starts the Rivya simulator with its fault
switches on (429s, 5xx, dropped create answers), two ``celery worker`` processes and one beat,
creates N generations as the create view does, SIGKILLs one worker every few seconds and starts
it again, restarts the broker twice (the embedded broker: its folder emptied, as its messages die
with the workers; Redis: a private ``redis-server`` killed and started empty), and waits until
every generation has finished or the time is up. Then it counts, from both sides:

- lost: generations still unfinished at the end, or failed without a message;
- duplicated: generations for which the simulator created more than one task;
- double-charged: generations with more than one settlement, or charged more than once;
- ledger: our charges against the simulator's credits charged;
- time to drain: from the last generation created to the last one finished.

The database is a fresh SQLite file under --workdir (or the PostgreSQL database named by
DATABASE_URL, which must be empty: migrations are applied). The tier follows the environment:
CELERY_BROKER_URL=redis://... uses a private redis-server on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "rvya_sk_soak_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


class Stack:
    """The processes of one soak run, and the environment they share."""

    def __init__(self, workdir: Path, use_redis: bool) -> None:
        self.workdir = workdir
        self.env = dict(os.environ)
        self.env.update(
            DJANGO_SETTINGS_MODULE="imagen_site.settings",
            IMAGEN_DATA_DIR=str(workdir / "data"),
            RIVYA_API_KEY=API_KEY,
            RECONCILE_EVERY_SECONDS="2",
            CELERY_QUEUE=f"soak-{uuid.uuid4().hex[:8]}",
            PYTHONUNBUFFERED="1",
        )
        if not self.env.get("DATABASE_URL"):
            self.env["SQLITE_PATH"] = str(workdir / "soak.sqlite3")
        self.redis: subprocess.Popen[bytes] | None = None
        self.redis_port = free_port() if use_redis else 0
        if use_redis:
            self.env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        else:
            self.env["CELERY_BROKER_URL"] = "atomicfs://"
        self.workers: list[subprocess.Popen[bytes] | None] = [None, None]
        self.beat: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.broker_restarts = 0

    def log(self, name: str) -> Any:
        return (self.workdir / f"{name}.log").open("ab")

    def start_redis(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.redis = subprocess.Popen(
            [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.redis_port)

    def start_worker(self, n: int) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "imagen_site", "worker",
                "--pool", "threads", "--concurrency", "8", "-Q", self.env["CELERY_QUEUE"],
                "-n", f"soak{n}@%h", "--without-mingle", "--without-gossip",
                "-l", "WARNING"]  # fmt: skip
        log = self.log(f"w{n}")
        self.workers[n] = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def start_beat(self) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "imagen_site", "beat", "-l", "WARNING",
                "-s", str(self.workdir / "beat-schedule")]  # fmt: skip
        log = self.log("beat")
        self.beat = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def kill_worker(self, n: int) -> None:
        process = self.workers[n]
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.kills += 1
        self.start_worker(n)

    def supervise(self) -> None:
        """What systemd's Restart=always does: start again whatever exited by itself."""
        for n, process in enumerate(self.workers):
            if process is None or process.poll() is not None:
                self.start_worker(n)
        if self.beat is None or self.beat.poll() is not None:
            self.start_beat()

    def restart_broker(self) -> None:
        self.broker_restarts += 1
        if self.redis is not None:
            self.redis.send_signal(signal.SIGKILL)
            self.redis.wait()
            self.start_redis()
            return
        # The embedded broker's messages live in its folder and in the workers that fetched them.
        for n in range(len(self.workers)):
            process = self.workers[n]
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        for message in (self.workdir / "data" / "broker" / "out").glob("*"):
            message.unlink(missing_ok=True)
        for n in range(len(self.workers)):
            self.start_worker(n)

    def stop(self) -> None:
        for process in [*self.workers, self.beat, self.redis]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()


def setup_django(stack: Stack) -> None:
    os.environ.update(stack.env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from imagen_site import broker

    if settings.CELERY_BROKER_URL.startswith(broker.URL):  # settings do no I/O: make its folders
        broker.make_folders(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    call_command("migrate", verbosity=0)


def create_generations(count: int) -> list[int]:
    from django.contrib.auth.models import User

    from generations import catalog, lifecycle, tasks

    user, _ = User.objects.get_or_create(username="soak")
    model = catalog.find_model("google-imagen4")
    assert model is not None
    ids = []
    for n in range(count):
        generation, _ = lifecycle.create(
            user, form_token=uuid.uuid4(), model=model,
            prompt=f"Soak {n} [sim:delay={random.uniform(0.5, 3):.1f}]", aspect_ratio="1:1",
        )  # fmt: skip
        tasks.enqueue_submit(generation.pk)
        ids.append(generation.pk)
    return ids


def unfinished() -> int:
    from generations.models import UNFINISHED, Generation

    return Generation.objects.filter(status__in=UNFINISHED).count()


def books(sim: Any) -> dict[str, Any]:
    from django.db.models import Count, Sum

    from generations.models import Generation, LedgerEntry, Status

    rows = Generation.objects.all()
    settled = LedgerEntry.objects.filter(phase="settlement")
    per_key: dict[str, int] = {}
    for task in sim.state.tasks.values():
        per_key[task.idempotency_key or ""] = per_key.get(task.idempotency_key or "", 0) + 1
    doubly = settled.values("generation").annotate(n=Count("id")).filter(n__gt=1).count()
    charged_here = settled.filter(kind="charge").aggregate(s=Sum("credits"))["s"] or 0
    return {
        "generations": rows.count(),
        "succeeded": rows.filter(status=Status.SUCCEEDED).count(),
        "failed": rows.filter(status=Status.FAILED).count(),
        "failed_without_message": rows.filter(status=Status.FAILED, error_message="").count(),
        "lost": rows.exclude(status__in=[Status.SUCCEEDED, Status.FAILED]).count(),
        "duplicated": sum(1 for n in per_key.values() if n > 1),
        "remote_tasks": len(sim.state.tasks),
        "double_settled": doubly,
        "unsettled_finished": rows.filter(status__in=[Status.SUCCEEDED, Status.FAILED])
        .exclude(ledger__phase="settlement")
        .count(),
        "credits_charged_ours": charged_here,
        "credits_charged_simulator": sim.state.credits_charged,
        "failure_codes": dict(
            rows.filter(status=Status.FAILED)
            .values_list("error_code")
            .annotate(n=Count("id"))
            .values_list("error_code", "n")
        ),
    }


def arm_faults(sim: Any) -> None:
    sim.faults.rate_limit(40, retry_after=2, on="any")
    sim.faults.server_error(40, status=503, on="any")
    sim.faults.drop_after_create(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=15.0, help="stop by then, whatever")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between SIGKILLs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagen-soak"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    (args.workdir / "data").mkdir(parents=True)
    use_redis = os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
    stack = Stack(args.workdir, use_redis)
    sys.path.insert(0, str(ROOT))
    from rivya_sim import Simulator

    sim = Simulator(api_key=API_KEY, delay=1.5).start()
    stack.env["RIVYA_BASE_URL"] = sim.base_url
    deadline = time.monotonic() + args.minutes * 60
    try:
        if use_redis:
            stack.start_redis()
        setup_django(stack)
        arm_faults(sim)
        stack.supervise()
        started = time.monotonic()
        create_generations(args.generations)
        created = time.monotonic()
        restarts_at = [created + 20, created + 50]
        next_kill = time.monotonic() + args.kill_every
        while unfinished() and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_kill:
                stack.kill_worker(random.randrange(2))
                next_kill = now + args.kill_every
            if restarts_at and now >= restarts_at[0]:
                restarts_at.pop(0)
                stack.restart_broker()
            stack.supervise()
            time.sleep(0.5)
        drained = time.monotonic()
        result = books(sim)
        result.update(
            tier="redis" if use_redis else "embedded",
            database="postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
            create_seconds=round(created - started, 1),
            drain_seconds=round(drained - created, 1),
            timed_out=bool(result["lost"]),
            worker_kills=stack.kills,
            broker_restarts=stack.broker_restarts,
            simulator_create_requests=sim.state.create_requests,
        )
        print(json.dumps(result, indent=2))
        return 0 if not result["lost"] and not result["duplicated"] else 1
    finally:
        stack.stop()
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
