"""gunicorn reads this file from the directory it starts in (the project's, as docs/production.md
runs it), before it listens.

It holds the web node's settings, so ``gunicorn imagen_site.wsgi:application`` needs no flags; a
flag on the command line (or in ``GUNICORN_CMD_ARGS``) wins over any of them. It refuses to start
with DEBUG on when it would listen beyond loopback: the settings refuse DEBUG for a public
ALLOWED_HOSTS or a proxy (imagen_site/debug_guard.py), but only gunicorn knows where it listens,
and DEBUG's error page must never reach another machine.
"""

from __future__ import annotations

import os
from typing import Any

from imagen_site.debug_guard import is_loopback_bind

# The proxy on this machine forwards here. With the load balancer on another machine and no proxy
# here, bind the node's private address and name the balancer in forwarded_allow_ips.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Processes x threads = requests at once. Pages wait on the database, not the CPU: a few
# processes (about one per core, plus one) with four threads each.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = 4
# A process whose main loop has not checked in with gunicorn for 30 s is killed and replaced.
timeout = 30
graceful_timeout = 30  # a stop (deploy, systemctl stop) lets running requests finish first
keepalive = 5  # a little longer than nothing: the proxy reuses its connections to gunicorn
accesslog = "-"  # one line per request on stdout (the journal); the app's own log on stderr
# Who may say the scheme (X-Forwarded-Proto) to gunicorn itself; the studio believes the
# proxy's headers by TRUSTED_PROXY_COUNT, whatever this says.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


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
