"""Start the whole app on one machine: simulator, web server, Celery worker and Celery beat.

They run as child processes in one process group; Ctrl-C (or SIGTERM) stops every one of them.
When RIVYA_BASE_URL is set, no simulator starts and the app talks to that API.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_SECONDS = 10


class Command(BaseCommand):
    help = "Run the simulator, web server, worker and beat together until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--sim-port", type=int, default=int(os.environ.get("RIVYA_SIM_PORT", "8765"))
        )

    def handle(self, *args: Any, port: int, sim_port: int, **options: Any) -> None:
        env = dict(os.environ)
        # glibc gives each worker thread its own malloc arena; decoding pictures in eight of them
        # fragments memory so RSS creeps up over thousands of jobs. Two arenas keep it flat.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        commands: list[tuple[str, list[str]]] = []
        if not os.environ.get("RIVYA_BASE_URL"):
            api_key = settings.RIVYA_API_KEY
            secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
            env.update(RIVYA_BASE_URL=f"http://127.0.0.1:{sim_port}", RIVYA_WEBHOOK_SECRET="")
            sim = [
                python,
                "-m",
                "rivya_sim",
                "--host",
                "127.0.0.1",
                "--port",
                str(sim_port),
                "--api-key",
                api_key,
            ]
            if os.environ.get("RIVYA_WEBHOOKS", "1") != "0":
                env["RIVYA_WEBHOOK_SECRET"] = secret
                sim += [
                    "--webhook-url",
                    f"http://127.0.0.1:{port}/webhooks/rivya/",
                    "--webhook-secret",
                    secret,
                ]
            commands.append(("simulator", sim))
        celery = [python, "-m", "celery", "-A", "imagen_site"]
        commands += [
            ("web", [python, manage, "runserver", f"127.0.0.1:{port}", "--noreload"]),
            (
                "worker",
                [
                    *celery,
                    "worker",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "8",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
            ),
            ("beat", [*celery, "beat", "--loglevel", "INFO"]),
        ]
        self.run_all(commands, env, port)

    def run_all(
        self, commands: list[tuple[str, list[str]]], env: dict[str, str], port: int
    ) -> None:
        processes: list[tuple[str, subprocess.Popen[bytes]]] = []

        def stop(*_: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands:
                processes.append((name, subprocess.Popen(command, env=env)))  # noqa: S603
            time.sleep(2)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nImagen Studio is running: open http://127.0.0.1:{port}/ and sign in.\n"
                    f"Admins: http://127.0.0.1:{port}/admin/ · Ctrl-C stops everything.\n"
                )
            )
            while all(p.poll() is None for _, p in processes):
                time.sleep(0.5)
            dead = [name for name, p in processes if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self.stop_all(processes)

    def stop_all(self, processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for _, process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
