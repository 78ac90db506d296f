"""gunicorn reads this file from the directory it starts in (the project's, as docs/production.md
runs it), before it listens.

It refuses to start with DEBUG on when it would listen beyond loopback: the settings refuse DEBUG
for a public ALLOWED_HOSTS or a proxy (imagen_site/debug_guard.py), but only gunicorn knows where
it listens, and DEBUG's error page must never reach another machine.
"""

from __future__ import annotations

import os
from typing import Any

from imagen_site.debug_guard import is_loopback_bind


def on_starting(server: Any) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")
    from django.conf import settings

    public = [address for address in server.cfg.bind if not is_loopback_bind(address)]
    if settings.DEBUG and public:
        message = (
            f"DEBUG is on, and gunicorn would listen on {', '.join(public)}. DEBUG's error page "
            "shows settings and tracebacks: set DEBUG=false (and SECRET_KEY) to serve others."
        )
        server.log.error(message)
        raise SystemExit(1)
