"""Rivya webhooks: verified, deduplicated, and used only as a prompt to check the task now.

Rivya's signature scheme is not published (docs/rivya.md, unknown 1). We assume Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256 over
``id.timestamp.body``, the key being the base64 after ``whsec_``, 5 minutes' tolerance).
:func:`verify` is the one place that knows it; replace it when the real scheme is known.
The payload's result is never trusted: a valid delivery makes a worker ask the API.

Seen ids are kept for :data:`EVENT_RETENTION` (beat forgets older ones): a replay must carry its
signed timestamp, which the verifier refuses once it is more than :data:`REPLAY_TOLERANCE` old, so
an id older than that can never be replayed. A retry Rivya itself sends later is signed anew and
would be taken again, which only makes a worker check the task once more.
"""

from __future__ import annotations

import binascii
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from generations import tasks
from generations.models import Generation, WebhookEvent

logger = logging.getLogger(__name__)

# The verifier's window (standardwebhooks refuses timestamps further than this from now).
REPLAY_TOLERANCE = timedelta(minutes=5)
# How long a seen id is kept: the replay window, with a wide margin for clocks and retries.
EVENT_RETENTION = timedelta(days=1)


class BadWebhook(Exception):
    pass


def verify(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any]:
    """The verified payload, or BadWebhook. The only function that knows the signature scheme."""
    try:
        payload = Webhook(secret).verify(body, headers)
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadWebhook(str(exc) or type(exc).__name__) from None
    if not isinstance(payload, dict):
        raise BadWebhook("the payload is not a JSON object")
    return payload


def task_id_of(payload: dict[str, Any]) -> str:
    data = payload.get("data")
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return str(data["id"])
    return ""


def receive(request: HttpRequest) -> HttpResponse:
    secret = settings.RIVYA_WEBHOOK_SECRET
    if not secret:
        return JsonResponse({"error": "webhooks are not enabled"}, status=404)
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        payload = verify(request.body, headers, secret)
    except BadWebhook as exc:
        logger.warning("Refused a webhook: %s", exc)
        return JsonResponse({"error": "bad signature"}, status=400)
    try:
        # A savepoint, so a replay inside an outer transaction does not spoil it.
        with transaction.atomic():
            WebhookEvent.objects.create(event_id=headers["webhook-id"])
    except IntegrityError:
        return JsonResponse({"status": "already seen"})
    task_id = task_id_of(payload)
    generation_id = (
        Generation.objects.filter(remote_task_id=task_id).values_list("pk", flat=True).first()
        if task_id
        else None
    )
    if generation_id is None:
        logger.info(
            "Webhook %s names a task we do not know: %s", headers["webhook-id"], json.dumps(task_id)
        )
        return JsonResponse({"status": "unknown task"})
    # Broker down: logged; the regular polls and the reconciler still find it.
    tasks.send(tasks.poll_generation, generation_id, force=True)
    return JsonResponse({"status": "ok"})


def forget_old_events() -> int:
    """Delete the ids seen longer ago than :data:`EVENT_RETENTION` (one DELETE, by an index)."""
    cutoff = timezone.now() - EVENT_RETENTION
    deleted, _ = WebhookEvent.objects.filter(received_at__lt=cutoff).delete()
    if deleted:
        logger.info("Forgot %d webhook ids older than %s", deleted, cutoff)
    return deleted
