"""A Celery worker process for the benchmarks: the app's own worker, on the benchmark's queue.

``BENCH_CLIENT=fresh`` swaps the process's shared Rivya client for one that opens a new HTTP
client (and so a new TCP connection) for every call: the baseline that connection reuse is
measured against. Nothing else differs from what ``script/server`` runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")


def use_fresh_clients() -> None:
    import httpx
    from django.conf import settings

    from generations import catalog, lifecycle, rivya

    class FreshClient(rivya.RivyaClient):
        """Every request on its own httpx.Client, closed right after: no connection reuse."""

        def _request(self, method: str, path: str, **kwargs: Any) -> Any:
            shared = self._http
            with httpx.Client(
                base_url=self.base_url, timeout=shared.timeout, headers=shared.headers
            ) as http:
                self._http = http
                try:
                    return super()._request(method, path, **kwargs)
                finally:
                    self._http = shared

    def fresh() -> rivya.RivyaClient:
        return FreshClient(settings.RIVYA_BASE_URL, settings.RIVYA_API_KEY)

    rivya.get_client = fresh
    lifecycle.get_client = fresh  # type: ignore[attr-defined]
    catalog.get_client = fresh  # type: ignore[attr-defined]


def main() -> None:
    import django

    django.setup()
    from imagen_site.celery import app

    if os.environ.get("BENCH_CLIENT") == "fresh":
        use_fresh_clients()
    app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
    app.worker_main(
        [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            os.environ.get("BENCH_CONCURRENCY", "8"),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            os.environ.get("BENCH_NODE", "bench@%h"),
            "-Q",
            os.environ["BENCH_QUEUE"],
        ]
    )


if __name__ == "__main__":
    main()
