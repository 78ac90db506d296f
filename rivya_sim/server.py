"""The HTTP/1.1 server: a ``ThreadingHTTPServer`` with keep-alive, counting TCP connections.

Each connection gets a thread; requests on it are served one after another until the client
closes it (or asks to). ``TCP_NODELAY`` is set so a small answer is not held back by Nagle's
algorithm on a reused connection.

Assumptions where the contract is silent: request bodies over 1 MiB are refused with
``validation_failed`` (and the connection closed); chunked request bodies are accepted; paths
outside ``/api/v1/``, ``/results/`` and ``/_sim/`` answer 404 ``not_found``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from rivya_sim.api import handle_api
from rivya_sim.control import handle_control
from rivya_sim.engine import Engine
from rivya_sim.responses import ApiError, Request, Response, error_response
from rivya_sim.results import handle_result

MAX_BODY_BYTES = 1024 * 1024
logger = logging.getLogger("rivya_sim")


class BodyError(Exception):
    """The request body could not be read; the connection must be closed."""


def dispatch(engine: Engine, request: Request) -> Response:
    """Route a request to the API, the result files or the control endpoints."""
    if request.path.startswith("/api/v1/"):
        return handle_api(engine, request)
    if request.path.startswith("/results/") and request.method == "GET":
        return handle_result(engine, request)
    if request.path.startswith("/_sim/"):
        return handle_control(engine, request)
    return error_response(404, "not_found", f"No such path: {request.path}")


class SimServer(ThreadingHTTPServer):
    """Counts accepted connections and can cut them all at shutdown."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: Engine, log_requests: bool) -> None:
        self.engine = engine
        self.log_requests = log_requests
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._active = 0
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        self.engine.state.count("connections_opened")
        with self._lock:
            self._connections.add(connection)
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._active += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._active -= 1
                self._lock.notify_all()

    def close_connections(self, wait: float) -> bool:
        """Cut every open connection; wait for their threads. False if some are still busy."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        with self._lock:
            return self._lock.wait_for(lambda: self._active == 0, wait)


class RequestHandler(BaseHTTPRequestHandler):
    """Reads a request, asks ``dispatch`` for the answer, writes it (or drops the connection)."""

    protocol_version = "HTTP/1.1"
    server_version = "RivyaSimulator/1.0"
    disable_nagle_algorithm = True
    server: SimServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except BodyError as exc:
            self.close_connection = True
            self._write(ApiError(400, "validation_failed", str(exc)).response())
            return
        try:
            response = dispatch(self.server.engine, request)
        except Exception:
            logger.exception("rivya simulator: unexpected error on %s", request.path)
            response = error_response(500, "internal_error", "Internal server error.")
        self._write(response)

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        return Request(self.command, parts.path, parts.query, headers, self._read_body())

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError as exc:
            raise BodyError("Content-Length is not a number.") from exc
        if not 0 <= length <= MAX_BODY_BYTES:
            raise BodyError(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := self._chunk_size():
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY_BYTES:
                raise BodyError(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return bytes(body)

    def _chunk_size(self) -> int:
        line = self.rfile.readline().split(b";")[0].strip()
        try:
            return int(line or b"0", 16)
        except ValueError as exc:
            raise BodyError("The chunked request body is malformed.") from exc

    def _write(self, response: Response) -> None:
        if response.drop_after is not None:
            self.server.engine.sleep(response.drop_after)
            self.close_connection = True
            return
        length = len(response.body) if response.stream is None else response.content_length
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length or 0))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self._write_body(response, length or 0)

    def _write_body(self, response: Response, length: int) -> None:
        written = 0
        try:
            for chunk in response.stream or iter((response.body,)):
                self.wfile.write(chunk)
                written += len(chunk)
        except OSError:  # the client left (broken pipe, reset) or the simulator stopped
            self.close_connection = True
        if written != length:
            self.close_connection = True
