"""An S3-compatible server for tests and CI: moto's standalone server, plus the two checks of a
signed URL that Amazon S3 makes and moto leaves out.

moto serves a signed GET whatever its signature and however old it is. In front of it, a signed
URL (SigV4 in the query string, as django-storages makes them) is refused with 403, as S3 refuses
it, when its signature does not match (an edited expiry, a wrong key) or its ``X-Amz-Expires``
has run out. Everything else (the app's own header-signed calls) goes to moto as it is.

Run ``python -m tests.s3_server --port 9000`` (``.ci/services`` does); the test fixture starts
one on a free port unless ``S3_TEST_ENDPOINT_URL`` names a running one.
"""

from __future__ import annotations

import argparse
import hmac
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "imagen-test-access"
SECRET_KEY = "imagen-test-secret"  # a test server's only key
REGION = "us-east-1"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def refusal(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """What S3 answers a signed URL it will not honour."""
    code, message = environ["s3_server.refused"]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml")])
    return [body]


def _signature(method: str, url: str, host: str, query: dict[str, str]) -> str:
    """The SigV4 query signature the URL should carry, computed as botocore signs it."""
    unsigned = url.replace(f"&X-Amz-Signature={query['X-Amz-Signature']}", "")
    request = AWSRequest(method=method, url=unsigned, headers={"host": host})
    request.context["timestamp"] = query["X-Amz-Date"]
    region = query["X-Amz-Credential"].split("/")[2]
    auth = S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", region)
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))


def why_refused(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(code, message) when the request is a signed URL S3 would refuse; None otherwise."""
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if "X-Amz-Signature" not in query:
        return None
    host = environ.get("HTTP_HOST", "")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    url = f"http://{host}{urlsplit(raw).path}?{environ['QUERY_STRING']}"
    try:
        expected = _signature(environ["REQUEST_METHOD"], url, host, query)
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        lasts = timedelta(seconds=int(query["X-Amz-Expires"]))
    except (KeyError, IndexError, ValueError):
        return ("AuthorizationQueryParametersError", "The signed URL is malformed.")
    if not query["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/") or not hmac.compare_digest(
        expected, query["X-Amz-Signature"]
    ):
        return ("SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if datetime.now(UTC) > signed_at + lasts:
        return ("AccessDenied", "Request has expired")
    return None


def with_signed_url_checks(app: WSGIApp) -> WSGIApp:
    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = why_refused(environ)
        if refused is not None:
            environ["s3_server.refused"] = refused
            return refusal(environ, start_response)
        return app(environ, start_response)

    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    # Here, not above: the tests import this module for its key, and need no moto for that.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    app = with_signed_url_checks(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
