"""Real processes for the fault tests: Celery workers, brokers, a private redis-server, and a
gate that holds the simulator's answer at a chosen moment. Their fixtures are in conftest.py.

A worker here is ``celery -A imagen_site worker`` in its own process, on the pytest test database
(the SQLite file named by ``SQLITE_TEST_PATH``, or the ``test_…`` PostgreSQL database), pointed at
the session simulator, so a test can SIGKILL it at a chosen moment. On the embedded tier each test
gets its own filesystem broker folder; on the production tier (``CELERY_BROKER_URL`` set) the
shared broker is used on this run's own queue. Tests that stop or restart a broker start a private
``redis-server`` on a free loopback port instead of touching the shared one. The S3-compatible
server (``S3Server``) is shared by a session, each test on its own bucket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import httpx
import pytest
from django.db import connection

from imagen_site import broker as embedded_broker
from imagen_site.celery import app as celery_app
from tests import s3_server
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
SHARED_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- The broker the test process publishes to ---------------------------------------------------


def publish_to(url: str, options: dict[str, Any]) -> None:
    """Point this process's Celery app at another broker. The old pool is dropped, not closed:
    kombu keeps pools per broker in a registry, and a closed one would be handed out again."""
    app: Any = celery_app  # private attributes and writable settings: not in the type stubs
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    # Celery reads CELERY_BROKER_URL from the environment before its settings, so on the
    # production tier only the write URL (checked first) redirects what this process sends.
    app.conf["broker_write_url"] = url
    app.conf["broker_url"] = url
    app.conf.broker_transport_options = options


@dataclass
class Broker:
    """Where this test's messages go: ``url`` (empty for the embedded filesystem broker)."""

    url: str
    data_dir: Path  # the worker's IMAGEN_DATA_DIR: broker folders and beat schedule live here

    @property
    def folder(self) -> Path:
        return self.data_dir / "broker"

    def use(self) -> None:
        if self.url:
            publish_to(self.url, REMOTE_OPTIONS)
        else:
            options = embedded_broker.folder_options(self.folder)
            embedded_broker.make_folders(options)
            publish_to(embedded_broker.URL, options)


REMOTE_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 3, "socket_timeout": 10}


# -- A private redis-server ----------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on a free loopback port, keeping nothing on disk, so a restart loses
    every message, as a crashed broker without persistence does."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; this test needs it (marked services)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(self.port), timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


# -- An S3-compatible server ---------------------------------------------------------------------


class S3Server:
    """``tests/s3_server.py`` (moto, with S3's checks of a signed URL) in its own process on a
    free loopback port, or the one already running at ``url`` (CI's, from ``.ci/services``)."""

    def __init__(self, url: str = "") -> None:
        self.given = bool(url)
        self.url = url or f"http://127.0.0.1:{free_port()}"
        self.process: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    def start(self) -> S3Server:
        if not self.given:
            port = str(urlsplit(self.url).port)
            argv = [sys.executable, "-m", "tests.s3_server", "--port", port]
            self.process = subprocess.Popen(
                argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        wait_for(self.answers, timeout=30, every=0.1)
        return self

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the S3 server exited ({self.process.returncode})")
        try:
            return httpx.get(self.url, timeout=1).status_code < 500
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def client(self) -> Any:
        """A boto3 client of this server, made once: making one costs tens of milliseconds,
        which every test pays on the production tier (a bucket each)."""
        if self._client is None:
            self._client = boto3.client(
                "s3",
                endpoint_url=self.url,
                aws_access_key_id=s3_server.ACCESS_KEY,
                aws_secret_access_key=s3_server.SECRET_KEY,
                region_name=s3_server.REGION,
            )
        return self._client

    def settings(self, bucket: str) -> dict[str, Any]:
        """The app's settings for a bucket of this server, as the environment would give them."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": s3_server.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": s3_server.SECRET_KEY,
            "AWS_S3_REGION_NAME": s3_server.REGION,
        }


# -- Worker processes ----------------------------------------------------------------------------


BUCKET_SETTINGS = (
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
)


def media_env() -> dict[str, str]:
    """Where a process started by a test keeps images: where the test itself does (its folder,
    or its bucket on the production tier), never the bucket the environment names."""
    from django.conf import settings

    from imagen_site.storage import media_storage
    from imagen_site.storage_s3 import PrivateS3Storage

    in_bucket = isinstance(media_storage(), PrivateS3Storage)
    env = {"MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    for name in BUCKET_SETTINGS:
        env[name] = str(getattr(settings, name) or "") if in_bucket else ""
    return env


def database_env() -> dict[str, str]:
    """How a worker process reaches the test database this test is using."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(settings_dict["NAME"]), "DATABASE_URL": ""}
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return {"DATABASE_URL": f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"}


@dataclass
class WorkerProcess:
    """One ``celery worker`` process; its output goes to ``log``."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: Any = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        self._log_file = self.log.open("ab")
        start_at = self.log.stat().st_size
        # Its own process group, so a kill takes the embedded beat (-B forks it) down too.
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{self.output()[-3000:]}")
            return b" ready." in self.log.read_bytes()[start_at:]

        wait_for(ready, timeout=timeout, every=0.1)
        return self

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no cleanup, exactly as a crashed node."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Workers:
    """Starts workers for one test, and stops every one of them afterwards."""

    base_env: dict[str, str]
    tmp: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, *, beat: bool = False, concurrency: int = 4, **env: str) -> WorkerProcess:
        """The node name carries this test process's queue: on RabbitMQ a node's control queue
        (``<name>.celery.pidbox``) is exclusive, so two pytest-xdist processes each starting
        ``fault1@host`` at once would lock each other out."""
        number = len(self.started) + 1
        queue = str(celery_app.conf.task_default_queue)
        argv = [
            sys.executable, "-m", "celery", "-A", "imagen_site", "worker",
            "--pool", "threads", "--concurrency", str(concurrency),
            "-Q", queue, "-n", f"fault{number}-{queue}@%h",
            "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        if beat:
            argv += ["-B", "-s", str(self.tmp / f"beat-{number}")]
        worker = WorkerProcess(argv, {**self.base_env, **env}, self.tmp / f"worker-{number}.log")
        self.started.append(worker)
        return worker.start()

    def restart_exited(self) -> int:
        """Do what a process supervisor (systemd ``Restart=always``) does: start again any
        worker that exited by itself. Returns how many were restarted."""
        exited = [w for w in self.started if w.process is not None and w.process.poll() is not None]
        for worker in exited:
            worker.kill()
            worker.start()
        return len(exited)

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


# -- Web processes --------------------------------------------------------------------------------


@dataclass
class WebProcess:
    """One gunicorn serving the studio on its own loopback port; its output goes to ``log``."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebProcess:
        argv = [
            sys.executable, "-m", "gunicorn", "imagen_site.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4",
        ]  # fmt: skip
        with self.log.open("ab") as out:  # cwd: gunicorn reads gunicorn.conf.py there
            self.process = subprocess.Popen(
                argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited early:\n{self.log.read_text()[-3000:]}")
            return port_open(self.port)

        wait_for(answers, timeout=60, every=0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None


# -- Holding the simulator at a chosen moment ---------------------------------------------------


@dataclass
class CreateGate:
    """Makes the simulator create a task and then hold its answer until ``release()``: the
    moment between Rivya accepting a task and the worker hearing about it."""

    created: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    holds_left: int = 1

    def release(self) -> None:
        self.released.set()
