"""The network as the fault tests meet it: a loopback server with hostile answers, a connection
recorder, and resolvers that point names wherever a test needs, without sending traffic off
loopback."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import png_bytes


@dataclass
class ConnectionLog:
    """Every TCP connection the code under test tried to open, by (host, port)."""

    attempts: list[tuple[str, int]] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        return [host for host, _ in self.attempts]


@contextmanager
def recording_connections() -> Iterator[ConnectionLog]:
    """Record ``socket.create_connection`` (httpcore's only way to open a socket) and refuse,
    rather than make, any connection outside 127.0.0.0/8, so a failing test stays on loopback."""
    log = ConnectionLog()
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address[0], int(address[1])
        log.attempts.append((host, port))
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"test guard: no traffic to {host}")
        return real(address, *args, **kwargs)

    socket.create_connection = guarded  # type: ignore[assignment]
    try:
        yield log
    finally:
        socket.create_connection = real


def resolver_to(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver answering from ``table``; a name not in it fails as an unknown name would."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown test name {host}")
        return list(table[host])

    return resolve


class HostileHandler(BaseHTTPRequestHandler):
    """Answers by path. ``server.seen`` records (path, Host header) of every request."""

    protocol_version = "HTTP/1.1"
    server: HostileServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self._send(404, b"no such thing", "text/plain")
            return
        route(query)

    def _send(self, status: int, body: bytes, kind: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_png(self, query: dict[str, str]) -> None:
        self._send(200, png_bytes(32, 24), "image/png")

    def route_slow_png(self, query: dict[str, str]) -> None:
        """The picture, after ``wait`` seconds of silence (or until the server stops)."""
        self.server.stop.wait(float(query.get("wait", "0")))
        self._send(200, png_bytes(), "image/png")

    def route_gzip(self, query: dict[str, str]) -> None:
        self._send(200, gzip.compress(png_bytes(32, 24)), "image/png", Content_Encoding="gzip")

    def route_redirect(self, query: dict[str, str]) -> None:
        self.send_response(302)
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_big(self, query: dict[str, str]) -> None:
        """``n`` bytes after a PNG signature, with no Content-Length (read until close)."""
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        remaining = int(query["n"])
        block = b"\x89PNG\r\n\x1a\n" + b"\x00" * 65528
        while remaining > 0:
            if not self._write(block[:remaining]):
                return
            remaining -= len(block)

    def route_stall(self, query: dict[str, str]) -> None:
        """Half the body quickly, in ``every``-second steps for ``steps`` steps, then silence."""
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        for _ in range(int(query.get("steps", "1"))):
            if not self._write(b"\x89PNG\r\n\x1a\n"):
                return
            time.sleep(float(query.get("every", "0")))
        self.server.stop.wait(float(query.get("silence", "20")))
        self.close_connection = True

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HostileHandler)
        self.seen: list[tuple[str, str]] = []
        self.stop = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
