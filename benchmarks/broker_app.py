"""A Celery app for ``bench_broker``: one no-op task on the broker named by the environment.

``BENCH_BROKER_URL`` and ``BENCH_BROKER_OPTIONS`` (JSON) choose the transport; the task writes
``<seconds from send to start>`` to ``BENCH_BROKER_LOG``, one line per task. Everything else is as
the app configures Celery (``imagen_site/settings.py``): late acks, one message per free thread.

``sqlabench+sqlite:///…`` is kombu's SQLAlchemy transport with two changes that give it a fair
run: ``polling_interval`` is kept out of ``create_engine`` (kombu hands every transport option to
it, so the option cannot be set otherwise and the transport would poll once a second), and the
SQLite file runs in WAL mode with a 20 s busy timeout, as the app's own database does.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES, sqlalchemy
from sqlalchemy import create_engine, event

import imagen_site.broker  # noqa: F401  registers atomicfs://


class SqlaChannel(sqlalchemy.Channel):
    def _engine_from_config(self) -> Any:
        client: Any = self.connection.client
        engine = create_engine(client.hostname, connect_args={"timeout": 20})

        @event.listens_for(engine, "connect")
        def wal(connection: Any, record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")

        return engine


class SqlaTransport(sqlalchemy.Transport):
    Channel = SqlaChannel
    polling_interval = 0.1


TRANSPORT_ALIASES["sqlabench"] = "benchmarks.broker_app:SqlaTransport"

QUEUE = "bench-broker"
app = Celery("bench_broker")
app.conf.update(
    broker_url=os.environ.get("BENCH_BROKER_URL", "memory://"),
    broker_transport_options=json.loads(os.environ.get("BENCH_BROKER_OPTIONS", "{}")),
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
)
_lock = threading.Lock()


@app.task(name="bench.started")
def started(sent_at: float) -> None:
    waited = time.time() - sent_at
    with _lock, open(os.environ["BENCH_BROKER_LOG"], "a") as log:
        log.write(f"{waited:.6f}\n")
