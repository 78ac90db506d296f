"""What an operator's tools read: ``GET /healthz`` for a load balancer, ``GET /metrics`` for
Prometheus.

``/healthz`` needs no sign-in and says nothing secret: ``{"status": "ok", "database": "ok",
"broker": "ok", "storage": "ok"}`` with 200, or 503 with ``"failing"`` beside each part that did
not answer. The three checks run side by side, each given ``CHECK_SECONDS``; the answer is kept
for ``KEEP_SECONDS`` in the process, so a load balancer calling every second costs one check of
each part every two seconds per process, and a hung part costs at most ``CHECK_SECONDS``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimedOut

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from generations import metrics
from imagen_site import storage
from imagen_site.celery import app as celery_app
from imagen_site.security import client_address

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2
KEEP_SECONDS = 2
CACHE_KEY = "healthz"
# Threads, not the request's: a hung part must not hold the request past CHECK_SECONDS.
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="healthz")


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection: not left open in the pool's thread


def check_broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_SECONDS)


def check_storage() -> None:
    storage.media_storage().check()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> dict[str, str]:
    """``ok`` or ``failing`` for each part; why a part failed goes to the log, not the page."""
    started = {part: _pool.submit(check) for part, check in CHECKS.items()}
    parts = {}
    for part, future in started.items():
        try:
            future.result(timeout=CHECK_SECONDS)
            parts[part] = "ok"
        except CheckTimedOut:
            logger.warning("Health check: the %s did not answer within %s s", part, CHECK_SECONDS)
            parts[part] = "failing"
        except Exception:  # any failure of a part is that part failing, whatever it raised
            logger.warning("Health check: the %s is failing", part, exc_info=True)
            parts[part] = "failing"
    return parts


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    parts: dict[str, str] | None = cache.get(CACHE_KEY)
    if parts is None:
        parts = run_checks()
        cache.set(CACHE_KEY, parts, KEEP_SECONDS)
    healthy = all(state == "ok" for state in parts.values())
    body = {"status": "ok" if healthy else "failing", **parts}
    return JsonResponse(body, status=200 if healthy else 503)


def may_read_metrics(request: HttpRequest) -> bool:
    """A Bearer METRICS_TOKEN, or a client address METRICS_ALLOWED_ADDRESSES lists."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address(request) or "")
    except ValueError:
        return False
    networks = (ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_ADDRESSES)
    return any(address in network for network in networks)


@never_cache
@require_GET
def metrics_page(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        return HttpResponse("Not allowed.\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.exposition(), content_type="text/plain; version=0.0.4")
