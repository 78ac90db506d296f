"""The Celery app. Workers run ``celery -A imagen_site worker``, the scheduler ``... beat``."""

import os

from celery import Celery

from imagen_site import broker  # noqa: F401  registers the embedded broker's atomicfs:// scheme

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")

app = Celery("imagen_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
