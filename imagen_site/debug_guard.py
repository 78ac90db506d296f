"""When DEBUG may be on: only where nobody but the person at the keyboard can see an error page.

DEBUG's error page shows settings, tracebacks with local variables and the request's headers;
``script/server`` turns it on, which is right on a laptop. Anything that says the site is served
to others (a host name that is not loopback, a proxy in front) makes the settings refuse to load,
so no process (gunicorn, a Celery worker, beat, ``manage.py``) can start that way. gunicorn's
config (``gunicorn.conf.py``) adds the one case settings cannot see: listening beyond loopback.
No Django here: the settings and gunicorn's config both import it before Django is set up.
"""

from __future__ import annotations

import ipaddress

# Names that only ever mean this machine (RFC 6761), and Django's test client's made-up host.
LOCAL_NAMES = {"localhost", "testserver"}


def is_loopback_host(host: str) -> bool:
    """True for localhost, *.localhost, 127.0.0.0/8 and ::1 (with or without brackets)."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def why_not_debug(allowed_hosts: list[str], trusted_proxy_count: int) -> str:
    """Why this configuration must not run with DEBUG on, or "" when it may."""
    public = [host for host in allowed_hosts if not is_loopback_host(host)]
    if public:
        return f"ALLOWED_HOSTS names {', '.join(public)}, so others can reach this site"
    if trusted_proxy_count > 0:
        return "TRUSTED_PROXY_COUNT says a proxy serves this site to others"
    return ""


def is_loopback_bind(address: str) -> bool:
    """True for a gunicorn ``--bind`` on a loopback address; a unix socket or fd is what a
    proxy in front connects to, so it counts as serving others."""
    if address.startswith(("unix:", "fd://")):
        return False
    host = address[: address.find("]") + 1] if address.startswith("[") else address.split(":")[0]
    return bool(host) and is_loopback_host(host)
