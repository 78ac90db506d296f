"""What every benchmark part shares: its own data folder and databases, Django set up on them,
the simulator, percentiles, and the JSON a part hands back to ``python -m benchmarks``.

A part runs in its own process (``python -m benchmarks.<part> --backend sqlite|pg``) because the
backend is chosen by environment variables before Django starts. Nothing here touches the
developer's ``var/db.sqlite3``: the data lives under ``BENCH_DATA_DIR`` (``var/bench`` by default),
PostgreSQL uses its own database (``imagen_bench``) and Redis its own db number (13).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imagen_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
API_KEY = "rvya_sk_bench_0123456789"
WEBHOOK_SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="


def data_dir() -> Path:
    return Path(os.environ.get("BENCH_DATA_DIR", str(ROOT / "var" / "bench"))).resolve()


def backend_env(backend: str) -> dict[str, str]:
    """The environment that points the app at the benchmark's own stores."""
    base = data_dir() / backend
    env = {
        "IMAGEN_DATA_DIR": str(base),
        "MEDIA_ROOT": str(base / "media"),
        "DEBUG": "true",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "RIVYA_API_KEY": API_KEY,
        "DATABASE_CONN_MAX_AGE": "60",
    }
    if backend == "pg":
        env.update(DATABASE_URL=PG_URL, CELERY_BROKER_URL=REDIS_URL)
    else:
        env.update(SQLITE_PATH=str(base / "bench.sqlite3"), DATABASE_URL="")
        env["CELERY_BROKER_URL"] = "atomicfs://"
    return env


def setup(backend: str, **extra: str) -> None:
    """Point this process at the backend's stores, start Django and migrate."""
    env = backend_env(backend)
    env.update(extra)
    Path(env["IMAGEN_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    if not env.get("DATABASE_URL"):
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from imagen_site import broker

    if settings.CELERY_BROKER_URL.startswith(broker.URL):  # settings do no I/O: make its folders
        broker.make_folders(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    call_command("migrate", verbosity=0, interactive=False)


def pct(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples_s: list[float]) -> dict[str, float]:
    """Milliseconds: n, median, p95, max."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2) if ms else float("nan"),
        "p95_ms": round(pct(ms, 95), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


@contextmanager
def simulator(delay: float = 0.0, **kwargs: Any) -> Iterator[Any]:
    """The local simulator on a free loopback port, with the app's settings pointed at it."""
    from django.conf import settings

    from generations import rivya
    from rivya_sim import Simulator

    sim = Simulator(api_key=API_KEY, delay=delay, **kwargs).start()
    settings.RIVYA_BASE_URL = sim.base_url
    os.environ["RIVYA_BASE_URL"] = sim.base_url
    rivya.reset_client()
    try:
        yield sim
    finally:
        sim.stop()


def bench_user(username: str = "bench", *, staff: bool = False) -> Any:
    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(
        username=username, defaults={"is_staff": staff, "is_superuser": staff}
    )
    return user


def logged_in_client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def new_token() -> str:
    return str(uuid.uuid4())


def cli(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the result here")
    return parser.parse_args()


def emit(args: argparse.Namespace, result: dict[str, Any]) -> None:
    result = {"backend": args.backend, "quick": args.quick, **result}
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text)


@contextmanager
def remote_calls() -> Iterator[list[str]]:
    """Every request any httpx client in this process sends while inside the block."""
    import httpx

    sent: list[str] = []
    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return original(self, request, **kwargs)

    httpx.Client.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        httpx.Client.send = original  # type: ignore[method-assign]


def query_count(fn: Callable[[], Any]) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries), [q["sql"][:160] for q in ctx.captured_queries]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
