"""Who a request comes from, and what an error report may show.

- :func:`client_address`: behind ``TRUSTED_PROXY_COUNT`` proxies, the address the outermost one
  saw, read from the right of X-Forwarded-For (each proxy appends what it saw, so everything to
  the left of that is whatever the browser wrote). With no proxy trusted, the header is ignored.
- :class:`CredentialsFilter`: the error page and error mails show settings, the request's META
  (which holds the whole environment under ``runserver``) and the frames' local variables; a
  password inside a URL (``scheme://user:password@host``) is masked wherever it appears there.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# scheme://userinfo@ : the userinfo is everything up to the last "@" before the host's path.
URL_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)[^\s/?#@]*(?:@[^\s/?#@]*)*@", re.I
)


def client_address(request: HttpRequest) -> str | None:
    """The client's address, as django-axes' ``AXES_CLIENT_IP_CALLABLE``.

    1. No proxy trusted: the peer's address (REMOTE_ADDR); X-Forwarded-For is ignored.
    2. N proxies trusted: the Nth address from the right of X-Forwarded-For, the one the
       outermost proxy saw. Fewer than N addresses means the request did not come through all of
       them: the peer's address again. Anything that is not an IP address is ignored the same way.
    """
    peer = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return peer


def mask_credentials(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by stars."""
    return URL_CREDENTIALS.sub(
        lambda match: f"{match['scheme']}{SafeExceptionReporterFilter.cleansed_substitute}@", text
    )


class CredentialsFilter(SafeExceptionReporterFilter):
    """Django's filter (settings named like KEY, SECRET, PASS… are hidden), plus credentials in
    URLs: in every setting, every META entry (both go through ``cleanse_setting``, recursively)
    and every string, dict, list or tuple a frame holds (where Django hides nothing)."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        # str() too: a lazy string (axes has some) passes isinstance but is no str to re.
        return mask_credentials(str(cleansed)) if isinstance(cleansed, str) else cleansed

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        cleansed = super().cleanse_special_types(request, value)
        if isinstance(cleansed, str):
            return mask_credentials(str(cleansed))
        if type(cleansed) in (dict, list, tuple):  # e.g. a connection's parameters
            return self.cleanse_setting("", cleansed)
        return cleansed
