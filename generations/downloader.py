"""Fetch a result's images from URLs we do not trust, safely.

Rules (DESIGN.md, rule 6): https only, except the Rivya API's own origin (the simulator on
loopback), and that origin only while every hop so far was on it (a redirect from another host
into it is refused); every address a name resolves to must be public (``is_global`` and none of
:data:`REFUSED_NETWORKS`, with an IPv4 address inside an IPv6 one judged itself), and the
connection goes to the address we checked (pinned), for every hop of a redirect; a byte cap
enforced while streaming, per image and for the whole result; one deadline for all of a
result's images; the type sniffed from the bytes; and Pillow reads the header and refuses more
pixels than the cap before it decodes anything.

A refusal is an :class:`UnsafeResult`: a ``reason`` code, a ``message`` in the studio's words (a
member may read it), and the library's or server's own words only in ``detail``, for logs.
"""

from __future__ import annotations

import functools
import io
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.utils.translation import gettext_noop
from PIL import Image

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
MAX_RESULT_IMAGES = 4  # a result's images beyond these are not fetched (and are logged)
STALL_SECONDS = 5.0  # the longest one read or connect may wait
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
# Every exception httpx raises derives from one of these; HTTPError alone misses InvalidURL,
# CookieConflict and the StreamError family.
HTTPX_FAILURES = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, httpx.CookieConflict)

# Never fetched from, whatever ``is_global`` says in the Python version at hand (its tables have
# changed between releases, and fec0::/10 passed as global).
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relays (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and broadcast
        "::/96",  # unspecified, loopback, IPv4-compatible ::a.b.c.d (deprecated)
        "64:ff9b:1::/48",  # NAT64 for local use
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 segment ids
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, but routed inside some networks)
        "ff00::/8",  # multicast
    )
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: an IPv4 address inside

# What a member reads, by reason. Plain sentences; the numbers and the library's words are in
# ``detail``, for the logs and the admins. Kept in English (errors.refused_result), and said in
# the reader's language where they are shown.
MESSAGES = {
    "no_address": gettext_noop("Rivya sent no address for the picture."),
    "bad_address": gettext_noop(
        "The picture's address is not a public https address, so it was not fetched."
    ),
    "private_address": gettext_noop(
        "The picture's address points into a private network, so it was not fetched."
    ),
    "bad_redirect": gettext_noop(
        "The picture's address sent us on to a place we do not fetch from."
    ),
    "unreachable": gettext_noop("The server holding the picture could not be reached."),
    "http_status": gettext_noop("The server holding the picture answered with an error."),
    "too_large": gettext_noop("The picture is larger than the studio accepts."),
    "too_slow": gettext_noop("The picture took too long to download."),
    "not_an_image": gettext_noop(
        "The file Rivya sent is not a complete PNG, JPEG or WebP picture."
    ),
    "too_many_pixels": gettext_noop("The picture has more pixels than the studio accepts."),
}


class UnsafeResult(Exception):
    """The result cannot be stored. ``reason`` is a short code (a key of :data:`MESSAGES`),
    ``message`` the studio's words for a member, ``detail`` what exactly happened (a library's
    or a server's words included) for logs and admins; ``retryable`` says whether fetching again
    might work."""

    def __init__(
        self, message: str, *, reason: str = "unsafe", detail: str = "", retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.detail = detail or message
        self.retryable = retryable

    @classmethod
    def of(cls, reason: str, detail: str = "", *, retryable: bool = False) -> UnsafeResult:
        """The refusal for ``reason``, in the words of :data:`MESSAGES`."""
        return cls(MESSAGES[reason], reason=reason, detail=detail, retryable=retryable)


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
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number or out of range, an unclosed [
        raise UnsafeResult.of("bad_address", f"not a valid address: {url[:200]!r}") from None
    return parts.scheme, _ascii_host(parts.hostname or ""), port


def _ascii_host(host: str) -> str:
    """The host as it goes on the wire (IDNA for a name in another script), lower case."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeResult.of("bad_address", f"host name not valid: {host[:200]!r}") from None


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


def _unwrapped(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 address carried inside an IPv6 one (``::ffff:a.b.c.d``, 6to4, NAT64's
    ``64:ff9b::a.b.c.d``), which is where a connection to it really goes; else ``ip``."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.ipv4_mapped or ip.sixtofour or ip


def _is_public(address: str) -> bool:
    """Whether an address is on the public internet: ``is_global``, in none of
    :data:`REFUSED_NETWORKS`, and neither multicast, reserved, link- nor site-local."""
    try:
        ip = _unwrapped(ipaddress.ip_address(address))
    except ValueError:
        return False
    if any(ip in network for network in REFUSED_NETWORKS):
        return False
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_link_local or site_local
    )


def _resolve_within(host: str, port: int, resolver: Resolver, seconds: float) -> list[str]:
    """Resolve in a helper thread so that a slow DNS answer cannot outlast the deadline."""
    if (literal := _literal_address(host)) is not None:
        return [literal]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="result-dns")
    try:
        return pool.submit(resolver, host, port).result(timeout=max(seconds, 0.0))
    except FutureTimeout:
        detail = f"{host} took too long to resolve"
        raise UnsafeResult.of("too_slow", detail, retryable=True) from None
    except OSError as exc:
        raise UnsafeResult.of(
            "unreachable", f"{host} not resolved: {exc}", retryable=True
        ) from None
    finally:
        pool.shutdown(wait=False)


def check_url(
    url: str,
    *,
    trusted_origin: str | None,
    resolver: Resolver | None = None,
    seconds: float = 10.0,
) -> str:
    """Return the address to connect to for ``url``, or raise UnsafeResult. No I/O but DNS,
    which must answer within ``seconds``. ``trusted_origin`` (the API's, or None) may be
    plain http and on loopback."""
    scheme, host, port = _origin(url)
    if not host:
        raise UnsafeResult.of("bad_address", "no host")
    if "@" in urlsplit(url).netloc:
        raise UnsafeResult.of("bad_address", "a user name or password in the address")
    trusted = trusted_origin is not None and (scheme, host, port) == _origin(trusted_origin)
    if scheme != "https" and not trusted:
        raise UnsafeResult.of("bad_address", f"scheme {scheme or 'none'}; only https is allowed")
    addresses = _resolve_within(host, port, resolver or resolve, seconds)
    if not addresses:
        raise UnsafeResult.of("unreachable", f"{host} has no address", retryable=True)
    if not trusted and not all(_is_public(a) for a in addresses):
        raise UnsafeResult.of("private_address", f"{host} resolves to {', '.join(addresses)}")
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


def _too_slow() -> UnsafeResult:
    return UnsafeResult.of("too_slow", "past the result's deadline")


def _read_capped(response: httpx.Response, deadline: float, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeResult.of("too_large", f"declared {int(declared)} bytes, over {max_bytes}")
    chunks: list[bytes] = []
    total = 0
    with _cut_off_at(deadline, response):
        for chunk in response.iter_raw():
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeResult.of("too_large", f"more than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise _too_slow()
            chunks.append(chunk)
    if time.monotonic() > deadline:  # the watchdog cut it short: the body may be incomplete
        raise _too_slow()
    return b"".join(chunks)


def _sniff(data: bytes) -> str:
    kind = next((name for sig, name in SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WEBP"
    if kind is None:
        raise UnsafeResult.of("not_an_image", f"starts with {data[:16]!r}")
    return kind


def _decode(data: bytes, max_pixels: int) -> FetchedImage:
    kind = _sniff(data)
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as probe:
            width, height = probe.size  # read from the header only
            if width * height > max_pixels:
                detail = f"{width}x{height} pixels, over {max_pixels}"
                raise UnsafeResult.of("too_many_pixels", detail)
            probe.load()
    except Image.DecompressionBombError as exc:  # Pillow's own guard, before ours
        raise UnsafeResult.of("too_many_pixels", f"Pillow: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnsafeResult.of("not_an_image", f"Pillow: {exc}") from None
    return FetchedImage(data=data, format=kind, width=width, height=height)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _too_slow()
    return left


def _hop_timeout(deadline: float) -> httpx.Timeout:
    """Every wait of one request ends by the deadline (and a single stall after 5 s)."""
    return httpx.Timeout(min(STALL_SECONDS, _left(deadline)))


@dataclass(frozen=True)
class Caps:
    """What one image may be: where it may come from over http, its bytes and its pixels."""

    trusted_origin: str
    max_bytes: int
    max_pixels: int


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
    deadline = time.monotonic() + (deadline_seconds or settings.RESULT_DEADLINE_SECONDS)
    caps = Caps(
        trusted_origin or settings.RIVYA_BASE_URL,
        max_bytes or settings.RESULT_MAX_BYTES,
        max_pixels or settings.RESULT_MAX_PIXELS,
    )
    return _fetch(url, deadline, caps, resolver)


def fetch_result(
    urls: Sequence[str], *, trusted_origin: str | None = None, resolver: Resolver | None = None
) -> list[FetchedImage]:
    """Download and verify a result's images, all or none.

    1. No URL: ``no_address``. More than :data:`MAX_RESULT_IMAGES`: the first ones are kept,
       and how many were dropped is logged (warning).
    2. One deadline for all of them together (``RESULT_DEADLINE_SECONDS``): each image gets
       what the ones before it left.
    3. One byte budget for all of them together (``RESULT_MAX_TOTAL_BYTES``): each image may
       take at most ``RESULT_MAX_BYTES`` and what the ones before it left.
    4. The first refusal ends the whole result (UnsafeResult); nothing is returned half.
    """
    if not urls:
        raise UnsafeResult.of("no_address", "the result carried no URL")
    if len(urls) > MAX_RESULT_IMAGES:
        logger.warning(
            "A result had %d image addresses; fetched the first %d, dropped %d.",
            len(urls),
            MAX_RESULT_IMAGES,
            len(urls) - MAX_RESULT_IMAGES,
        )
    deadline = time.monotonic() + settings.RESULT_DEADLINE_SECONDS
    budget = settings.RESULT_MAX_TOTAL_BYTES
    images: list[FetchedImage] = []
    for url in urls[:MAX_RESULT_IMAGES]:
        caps = Caps(
            trusted_origin or settings.RIVYA_BASE_URL,
            min(settings.RESULT_MAX_BYTES, budget),
            settings.RESULT_MAX_PIXELS,
        )
        image = _fetch(url, deadline, caps, resolver)
        budget -= len(image.data)
        images.append(image)
    return images


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificate checks every image's client uses, made once per process: making them
    reads the whole CA bundle, about 18 ms of CPU, which was a sixth of a job's cost when each
    client made its own (docs/benchmarks.md, issue 14). Sharing it shares no connection."""
    return httpx.create_ssl_context(trust_env=False)


def _fetch(url: str, deadline: float, caps: Caps, resolver: Resolver | None) -> FetchedImage:
    """One image, by its deadline, following at most three checked redirects. The API's
    origin is trusted only while every hop so far was on it: a redirect from another host into
    it is refused (``bad_redirect``), and so is a hop on after leaving it."""
    trusted: str | None = caps.trusted_origin
    # No proxies from the environment (they would connect for us, to an address we never
    # checked), and no kept-alive connection: each hop gets a connection made for its own name.
    options = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(
        follow_redirects=False, trust_env=False, limits=options, verify=_tls()
    ) as client:
        for hop in range(MAX_REDIRECTS + 1):
            on_api = _origin(url) == _origin(caps.trusted_origin)
            if hop and on_api and trusted is None:
                raise UnsafeResult.of("bad_redirect", "redirected from another host into the API")
            if not on_api:
                trusted = None  # left the API's origin: never trusted again on this path
            address = check_url(
                url, trusted_origin=trusted, resolver=resolver, seconds=_left(deadline)
            )
            data, location = _get(client, url, address, deadline, caps.max_bytes)
            if location is None:
                return _decode(data, caps.max_pixels)
            url = urljoin(url, location)
    raise UnsafeResult.of("bad_redirect", f"more than {MAX_REDIRECTS} redirects")


def _get(
    client: httpx.Client, url: str, address: str, deadline: float, max_bytes: int
) -> tuple[bytes, str | None]:
    """One hop: the body, or the ``Location`` it redirects to."""
    timeout = _hop_timeout(deadline)
    try:
        request = _pinned_request(client, url, address, timeout)
    except HTTPX_FAILURES as exc:  # httpx cannot make a request of it (InvalidURL)
        raise UnsafeResult.of("bad_address", f"{type(exc).__name__}: {url[:200]!r}") from None
    try:
        response = client.send(request, stream=True)
    except HTTPX_FAILURES as exc:
        if time.monotonic() >= deadline:
            # Not a word by the deadline: the file server is unwell, as if unreachable, so
            # trying again later may work. (A body that drips instead is refused for good.)
            detail = "no answer before the result's deadline"
            raise UnsafeResult.of("too_slow", detail, retryable=True) from None
        detail = f"{type(exc).__name__} connecting to {address}"
        raise UnsafeResult.of("unreachable", detail, retryable=True) from None
    try:
        if response.is_redirect:
            return b"", response.headers.get("Location", "")
        if response.status_code != 200:
            retryable = response.status_code >= 500
            detail = f"HTTP {response.status_code}"
            raise UnsafeResult.of("http_status", detail, retryable=retryable)
        return _read_capped(response, deadline, max_bytes), None
    except HTTPX_FAILURES as exc:
        if time.monotonic() >= deadline:
            raise _too_slow() from None
        detail = f"the download broke off ({type(exc).__name__})"
        raise UnsafeResult.of("unreachable", detail, retryable=True) from None
    finally:
        response.close()
