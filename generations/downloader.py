"""Fetch a result image from a URL we do not trust, safely.

Rules (DESIGN.md, rule 6): https only, except the Rivya API's own origin (the simulator on
loopback); every address a name resolves to must be public, and the connection goes to the
address we checked (pinned), for every hop of a redirect; a byte cap enforced while streaming; one
deadline for the whole fetch; the type sniffed from the bytes; and Pillow reads the header and
refuses more pixels than the cap before it decodes anything.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from PIL import Image

MAX_REDIRECTS = 3
STALL_SECONDS = 5.0  # the longest one read or connect may wait
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


class UnsafeResult(Exception):
    """The result cannot be stored; ``retryable`` says whether fetching again might work."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    format: str
    width: int
    height: int


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address the name has. Tests replace this to point names at any address."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:  # a port that is not a number, or out of range
        raise UnsafeResult("The result address has an invalid port.") from None
    return parts.scheme, _ascii_host(parts.hostname or ""), port


def _ascii_host(host: str) -> str:
    """The host as it goes on the wire (IDNA for a name in another script), lower case."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeResult("The result address has a host name that is not valid.") from None


def _literal_address(host: str) -> str | None:
    """The address a host that is already an IP address means, in any spelling the system
    resolver accepts (``127.1``, ``2130706433``, ``0x7f.0.0.1``), without asking the resolver."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.replace(".", "").isalnum() or not host[:1].isdigit():
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:a.b.c.d, 6to4) must be public itself.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def _resolve_within(host: str, port: int, resolver: Resolver, seconds: float) -> list[str]:
    """Resolve in a helper thread so that a slow DNS answer cannot outlast the deadline."""
    if (literal := _literal_address(host)) is not None:
        return [literal]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="result-dns")
    try:
        return pool.submit(resolver, host, port).result(timeout=max(seconds, 0.0))
    except FutureTimeout:
        raise UnsafeResult(
            f"The result host {host} took too long to resolve.", retryable=True
        ) from None
    finally:
        pool.shutdown(wait=False)


def check_url(
    url: str,
    *,
    trusted_origin: str,
    resolver: Resolver | None = None,
    seconds: float = 10.0,
) -> str:
    """Return the address to connect to for ``url``, or raise UnsafeResult. No I/O but DNS,
    which must answer within ``seconds``."""
    scheme, host, port = _origin(url)
    if not host:
        raise UnsafeResult("The result address has no host.")
    if "@" in urlsplit(url).netloc:
        raise UnsafeResult(
            "The result address carries a user name or password; it was not fetched."
        )
    trusted = (scheme, host, port) == _origin(trusted_origin)
    if scheme != "https" and not trusted:
        raise UnsafeResult(
            f"The result address uses {scheme or 'no scheme'}; only https is allowed."
        )
    try:
        addresses = _resolve_within(host, port, resolver or resolve, seconds)
    except OSError:
        raise UnsafeResult(
            f"The result host {host} could not be resolved.", retryable=True
        ) from None
    if not addresses:
        raise UnsafeResult(f"The result host {host} has no address.", retryable=True)
    if not trusted and not all(_is_public(a) for a in addresses):
        raise UnsafeResult("The result address points into a private network; it was not fetched.")
    return addresses[0]


def _pinned_request(
    client: httpx.Client, url: str, address: str, timeout: httpx.Timeout
) -> httpx.Request:
    """A request that connects to ``address`` while speaking to the URL's host (Host and SNI)."""
    parts = urlsplit(url)
    _, host, _ = _origin(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = host if not parts.port else f"{host}:{parts.port}"
    # identity: a compressed body would be a second, uncapped size; we read raw bytes anyway.
    headers = {"Host": host_header, "Accept-Encoding": "identity"}
    return client.build_request(
        "GET", pinned, headers=headers, timeout=timeout, extensions={"sni_hostname": host}
    )


@contextmanager
def _cut_off_at(deadline: float, response: httpx.Response) -> Iterator[None]:
    """Shut the connection down at the deadline. A read timeout only bounds one read, so a
    server that sends a little, then stalls, could otherwise outlast the deadline."""
    stream = response.extensions.get("network_stream")
    sock: socket.socket | None = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:
        yield
        return
    cut = _shutdown_quietly(sock)
    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shutdown_quietly(sock: socket.socket) -> Callable[[], None]:
    def cut() -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv in the reading thread

    return cut


def _read_capped(response: httpx.Response, deadline: float, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeResult(f"The result is {int(declared)} bytes, over the {max_bytes} byte cap.")
    chunks: list[bytes] = []
    total = 0
    with _cut_off_at(deadline, response):
        for chunk in response.iter_raw():
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeResult(f"The result was larger than the {max_bytes} byte cap.")
            if time.monotonic() > deadline:
                raise UnsafeResult("The result took too long to download.")
            chunks.append(chunk)
    if time.monotonic() > deadline:  # the watchdog cut it short: the body may be incomplete
        raise UnsafeResult("The result took too long to download.")
    return b"".join(chunks)


def _decode(data: bytes, max_pixels: int) -> FetchedImage:
    kind = next((name for sig, name in SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WEBP"
    if kind is None:
        raise UnsafeResult("The result is not a PNG, JPEG or WebP image.")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as probe:
            width, height = probe.size  # read from the header only
            if width * height > max_pixels:
                raise UnsafeResult(f"The result is {width}x{height} pixels, over the pixel cap.")
            probe.load()
    except UnsafeResult:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise UnsafeResult(f"The result could not be decoded as an image ({exc}).") from None
    return FetchedImage(data=data, format=kind, width=width, height=height)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise UnsafeResult("The result took too long to download.")
    return left


def _hop_timeout(deadline: float) -> httpx.Timeout:
    """Every wait of one request ends by the deadline (and a single stall after 5 s)."""
    return httpx.Timeout(min(STALL_SECONDS, _left(deadline)))


def fetch_image(
    url: str,
    *,
    trusted_origin: str | None = None,
    resolver: Resolver | None = None,
    max_bytes: int | None = None,
    deadline_seconds: float | None = None,
    max_pixels: int | None = None,
) -> FetchedImage:
    """Download and verify one image, following at most three checked redirects."""
    trusted_origin = trusted_origin or settings.RIVYA_BASE_URL
    max_bytes = max_bytes or settings.RESULT_MAX_BYTES
    total = deadline_seconds or settings.RESULT_DEADLINE_SECONDS
    deadline = time.monotonic() + total
    # No proxies from the environment (they would connect for us, to an address we never
    # checked), and no kept-alive connection: each hop gets a connection made for its own name.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(follow_redirects=False, trust_env=False, limits=limits) as client:
        for _ in range(MAX_REDIRECTS + 1):
            address = check_url(
                url, trusted_origin=trusted_origin, resolver=resolver, seconds=_left(deadline)
            )
            request = _pinned_request(client, url, address, _hop_timeout(deadline))
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise UnsafeResult(
                    f"The result could not be fetched ({type(exc).__name__}).", retryable=True
                ) from None
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise UnsafeResult(
                        f"The result address answered HTTP {response.status_code}.",
                        retryable=response.status_code >= 500,
                    )
                data = _read_capped(response, deadline, max_bytes)
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise UnsafeResult("The result took too long to download.") from None
                raise UnsafeResult(
                    f"The result download broke off ({type(exc).__name__}).", retryable=True
                ) from None
            finally:
                response.close()
            return _decode(data, max_pixels or settings.RESULT_MAX_PIXELS)
    raise UnsafeResult("The result address redirected too many times.")
