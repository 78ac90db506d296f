"""What a handler returns, and the API error envelope.

Every API error is ``{"error": {"code", "message", "requestId": "req_<24 hex>"}}``; a fresh
request id is made for each error (the contract gives no format beyond the ``req_`` prefix).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"


@dataclass
class Request:
    """One parsed HTTP request; header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class Response:
    """An answer to write, or (``drop_after`` set) a connection to close without answering.

    ``stream`` replaces ``body`` for large or slow bodies; ``content_length`` is then what the
    ``Content-Length`` header claims, which the "lie_length" result mode sets to a wrong value.
    """

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    content_length: int | None = None
    close: bool = False
    drop_after: float | None = None


class ApiError(Exception):
    """An error answered with the public error envelope."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.headers)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json_bytes(data), headers=headers or {})


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    envelope = {"error": {"code": code, "message": message, "requestId": new_request_id()}}
    return json_response(envelope, status, headers)


def dropped(after: float = 0.0) -> Response:
    """Close the connection without an answer, after ``after`` seconds."""
    return Response(status=0, drop_after=after)
