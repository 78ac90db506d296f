"""Run the whole app on one machine and keep it up: simulator, web server, Celery worker and beat.

Invariants:

- One process dying never takes another down. Any child that exits (the web server too) is
  started again after a backoff of 1, 2, 4 … up to 30 s, back to 1 s once it has run for a minute;
  the log says what exited, how, and when it comes back. The database holds the work, so a worker
  or beat started again picks up where the last one left off (the reconciler re-enqueues anything
  overdue). Restarting the web server too, rather than stopping the stack, keeps the studio up
  after a crash; a web server that cannot start (its port taken) says why in the log each time.
- Ctrl-C or SIGTERM stops everything and leaves no process behind: each child runs in its own
  process group, which gets SIGTERM, then SIGKILL after ``STOP_SECONDS``.
- Secrets never go on a command line (``ps`` shows every user's): the simulator gets its API key
  and webhook secret through its environment (``RIVYA_SIM_API_KEY``, ``RIVYA_SIM_WEBHOOK_SECRET``).
  When ``RIVYA_BASE_URL`` is unset, a real ``RIVYA_API_KEY`` is not handed to the simulator: the
  command stops and says what to set.
- Settings do no I/O: this command creates the data folder and the embedded broker's folders.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from imagen_site import broker

logger = logging.getLogger("runstack")

STOP_SECONDS = 10  # how long a child may take to stop on SIGTERM before it gets SIGKILL
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0  # a child that ran this long before exiting starts again after 1 s
WATCH_EVERY = 0.2
SIMULATOR_API_KEY = "rvya_sk_local_simulator"  # settings.RIVYA_API_KEY's default


@dataclass
class Child:
    """One supervised process and its restart state."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_exits: int = 0  # exits in a row, each within STABLE_SECONDS of its start
    restart_at: float | None = None
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        # Its own process group, so a stop reaches whatever it forked, and Ctrl-C in the terminal
        # reaches only runstack, which then stops the children in order.
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def schedule_restart(self, now: float) -> float:
        """Note an exit; returns the backoff before the next start."""
        ran = now - self.started_at
        self.quick_exits = 0 if ran >= STABLE_SECONDS else self.quick_exits + 1
        delay: float = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** max(0, self.quick_exits - 1))
        self.restart_at = now + delay
        return delay

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)


class Command(BaseCommand):
    help = "Run the simulator, web server, worker and beat together, restarting any that exits."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--sim-port", type=int, default=int(os.environ.get("RIVYA_SIM_PORT", "8765"))
        )

    def handle(self, *args: Any, port: int, sim_port: int, **options: Any) -> None:
        refuse_a_real_key_for_the_simulator()
        make_folders()
        env = dict(os.environ)
        # glibc gives each worker thread its own malloc arena; decoding pictures in eight of them
        # fragments memory so RSS creeps up over thousands of jobs. Two arenas keep it flat.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        children = []
        if not os.environ.get("RIVYA_BASE_URL"):
            children.append(simulator(env, port, sim_port))
        children += app_processes(env, port)
        run(children, port, self.stdout.write)


def make_folders() -> None:
    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    if settings.CELERY_BROKER_URL.startswith(broker.URL):
        broker.make_folders(settings.CELERY_BROKER_TRANSPORT_OPTIONS)


def refuse_a_real_key_for_the_simulator() -> None:
    """Without RIVYA_BASE_URL the app talks to the simulator: a real key must not go there."""
    api_key = os.environ.get("RIVYA_API_KEY", "")
    if not os.environ.get("RIVYA_BASE_URL") and api_key and api_key != SIMULATOR_API_KEY:
        raise CommandError(
            "RIVYA_API_KEY is set but RIVYA_BASE_URL is not, so the app would send your key to "
            "the local simulator. Set RIVYA_BASE_URL (for example https://rivya.ai) to use the "
            "key with Rivya, or unset RIVYA_API_KEY to run on the simulator. Nothing was started."
        )


def simulator(env: dict[str, str], port: int, sim_port: int) -> Child:
    """The local Rivya simulator, and ``env`` pointed at it (changed in place). Its key and
    webhook secret go in its environment, never in its argv."""
    env.update(RIVYA_BASE_URL=f"http://127.0.0.1:{sim_port}", RIVYA_WEBHOOK_SECRET="")
    sim_env = {**env, "RIVYA_SIM_API_KEY": settings.RIVYA_API_KEY}
    if os.environ.get("RIVYA_WEBHOOKS", "1") != "0":
        secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        env["RIVYA_WEBHOOK_SECRET"] = secret
        sim_env.update(
            RIVYA_SIM_WEBHOOK_SECRET=secret,
            RIVYA_SIM_WEBHOOK_URL=f"http://127.0.0.1:{port}/webhooks/rivya/",
        )
    argv = [sys.executable, "-m", "rivya_sim", "--host", "127.0.0.1", "--port", str(sim_port)]
    return Child("simulator", argv, sim_env)


def app_processes(env: dict[str, str], port: int) -> list[Child]:
    python = sys.executable
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    celery = [python, "-m", "celery", "-A", "imagen_site"]
    worker = [
        *celery, "worker", "--pool", "threads", "--concurrency", "8", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    return [
        Child("web", [python, manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env),
        Child("worker", worker, env),
        Child("beat", [*celery, "beat", "--loglevel", "INFO"], env),
    ]


def run(children: list[Child], port: int, say: Any) -> None:
    """Start every child, keep them up until Ctrl-C or SIGTERM, then stop them all."""

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        for child in children:
            child.start()
            logger.info("Started %s (pid %s)", child.name, pid_of(child))
        say(
            f"\nImagen Studio is running: open http://127.0.0.1:{port}/ and sign in.\n"
            f"Admins: http://127.0.0.1:{port}/admin/ · Ctrl-C stops everything.\n"
        )
        while True:
            time.sleep(WATCH_EVERY)
            for child in children:
                watch(child, time.monotonic())
    except KeyboardInterrupt:
        say("\nStopping…\n")
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stopping short and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(children)


def watch(child: Child, now: float) -> None:
    """Start ``child`` again once its backoff is over; notice when it exits."""
    if child.restart_at is not None:
        if now >= child.restart_at:
            child.start()
            logger.warning("Started %s again (pid %s)", child.name, pid_of(child))
        return
    code = child.exit_code()
    if code is None:
        return
    child.exits.append(code)
    child.signal_group(signal.SIGKILL)  # whatever it left behind in its group
    child.process = None  # its pid may be reused from now on: never signal it again
    ran = now - child.started_at
    delay = child.schedule_restart(now)
    logger.warning(
        "%s exited (%s) after %.0f s; starting it again in %.0f s. The others keep running.",
        child.name,
        describe_exit(code),
        ran,
        delay,
    )


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def pid_of(child: Child) -> int | None:
    return None if child.process is None else child.process.pid


def stop_all(children: list[Child]) -> None:
    """SIGTERM to every child's process group, SIGKILL to any still there after STOP_SECONDS."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        if child.process is None:
            continue
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for child in children:
        child.signal_group(signal.SIGKILL)  # stragglers, and anything left in an exited group
        if child.process is not None:
            child.process.wait()
