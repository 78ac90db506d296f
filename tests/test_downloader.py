"""The safe downloader, directly: which addresses it refuses, that it connects only to the
address it checked, and that its byte cap and deadline hold. Only loopback receives traffic."""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib

import pytest
from PIL import Image

from generations import downloader
from generations.downloader import UnsafeResult, fetch_image
from rivya_sim.images import bomb_png
from tests.faults.network import hostile_server, recording_connections, resolver_to
from tests.support import png_bytes

TRUSTED = "http://127.0.0.1:9"  # the API's origin in these tests; nothing listens there

NAMES = {
    "images.example": ["93.184.216.34"],
    "internal.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "v6-loopback.example": ["::1"],
    "v6-mapped.example": ["::ffff:127.0.0.1"],
}


def refuse(url: str, **kwargs) -> tuple[UnsafeResult, list[tuple[str, int]]]:
    with recording_connections() as log, pytest.raises(UnsafeResult) as caught:
        fetch_image(
            url,
            trusted_origin=kwargs.pop("trusted_origin", TRUSTED),
            resolver=kwargs.pop("resolver", resolver_to(NAMES)),
            **kwargs,
        )
    return caught.value, log.attempts


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://127.0.0.1:9/x.png",  # the API's host and port, but not its scheme
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
        "https://[::ffff:7f00:1]/x.png",
        "https://[2002:7f00:1::1]/x.png",  # 6to4 wrapping 127.0.0.1
        "https://[fe80::1]/x.png",
        "https://[fc00::1]/x.png",
        "https://0.0.0.0/x.png",
        "https://2130706433/x.png",  # 127.0.0.1 as one decimal number
        "https://0x7f.1/x.png",
        "https://127.1/x.png",
        "https://10.0.0.1/x.png",
        "https://172.16.5.4/x.png",
        "https://192.168.1.10/x.png",
        "https://100.64.0.1/x.png",
        "https://224.0.0.1/x.png",
        "https://240.0.0.1/x.png",
        "https://internal.example/x.png",
        "https://mixed.example/x.png",
        "https://metadata.example/x.png",
        "https://v6-loopback.example/x.png",
        "https://v6-mapped.example/x.png",
    ],
)
def test_it_refuses_private_addresses_without_connecting(url):
    error, attempts = refuse(url)
    assert "private network" in error.message
    assert not error.retryable
    assert attempts == []


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example/x.png",
        "ftp://images.example/x.png",
        "file:///etc/passwd",
        "gopher://images.example/",
        "data:image/png;base64,iVBORw0KGgo=",
        "http://127.0.0.1:8080/x.png",  # loopback, but not the API's origin
        "http://2130706433:9/x.png",  # the API's address spelled another way is not its origin
    ],
)
def test_it_refuses_other_schemes_without_connecting(url):
    error, attempts = refuse(url)
    assert "only https" in error.message or "no host" in error.message
    assert attempts == []


def test_it_refuses_a_url_with_a_user_name():
    error, attempts = refuse("https://user:secret@images.example/x.png")
    assert "user name or password" in error.message
    assert attempts == []


def test_it_refuses_a_url_with_an_impossible_port():
    error, attempts = refuse("https://images.example:99999/x.png")
    assert "invalid port" in error.message
    assert attempts == []


def test_it_does_not_ask_the_resolver_about_ip_literals():
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.216.34"]  # a resolver that would call anything public

    for url in ("https://2130706433/x.png", "https://127.1/x.png", "https://[::1]/x.png"):
        refuse(url, resolver=resolver)
    assert asked == []


def test_it_connects_only_to_the_address_it_checked():
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding name: public, then not
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    error, attempts = refuse("https://rebind.example/x.png", resolver=rebinding)
    # The guard refused the (public) connection; what matters is where it was going.
    assert attempts == [("93.184.216.34", 443)]
    assert calls == ["rebind.example"]
    assert error.retryable


def test_it_sends_the_name_in_host_while_connecting_to_the_pinned_address():
    with hostile_server() as server:
        origin = f"http://studio-api.test:{server.port}"
        names = resolver_to({"studio-api.test": ["127.0.0.1"]})
        with recording_connections() as log:
            image = fetch_image(f"{origin}/png", trusted_origin=origin, resolver=names)
    assert (image.format, image.width, image.height) == ("PNG", 32, 24)
    assert log.attempts == [("127.0.0.1", server.port)]
    assert server.seen == [("/png", f"studio-api.test:{server.port}")]


def test_it_ignores_proxy_settings_which_would_undo_the_pinning(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with hostile_server() as server, recording_connections() as log:
        fetch_image(f"{server.origin}/png", trusted_origin=server.origin)
    assert log.attempts == [("127.0.0.1", server.port)]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://169.254.169.254/latest/meta-data",
        "https://internal.example/x.png",
        "https://[::1]/x.png",
        "https://2130706433/x.png",
        "file:///etc/passwd",
        "ftp://images.example/x.png",
        "http://127.0.0.1:1/x.png",
    ],
)
def test_it_checks_every_redirect_hop(location):
    with hostile_server() as server:
        error, attempts = refuse(
            f"{server.origin}/redirect?to={location}", trusted_origin=server.origin
        )
    assert attempts == [("127.0.0.1", server.port)]  # the first hop only
    assert not error.retryable


def test_it_follows_a_redirect_within_the_rules():
    with hostile_server() as server:
        url = f"{server.origin}/redirect?to={server.origin}/png"
        image = fetch_image(url, trusted_origin=server.origin)
    assert image.format == "PNG"
    assert [path for path, _ in server.seen] == ["/redirect?to=" + f"{server.origin}/png", "/png"]


def test_it_stops_after_three_redirects():
    with hostile_server() as server:
        url = f"{server.origin}/png"
        for _ in range(4):
            url = f"{server.origin}/redirect?to={url.replace('&', '%26').replace('?', '%3F')}"
        error, attempts = refuse(url, trusted_origin=server.origin)
    assert "too many times" in error.message
    assert len(attempts) == 4


def test_it_refuses_a_declared_length_over_the_cap_before_reading():
    with hostile_server() as server:
        started = time.monotonic()
        error, _ = refuse(
            f"{server.origin}/stall?silence=5", trusted_origin=server.origin, max_bytes=50_000
        )
    assert "100000 bytes, over the 50000 byte cap" in error.message
    assert time.monotonic() - started < 1.0


def test_it_stops_reading_at_the_byte_cap_when_no_length_is_declared():
    with hostile_server() as server:
        error, _ = refuse(
            f"{server.origin}/big?n=5000000", trusted_origin=server.origin, max_bytes=1_000_000
        )
    assert "larger than the 1000000 byte cap" in error.message


def test_it_keeps_to_the_deadline_when_a_server_trickles_then_stalls():
    # Each read is well within the per-read timeout; only a total deadline stops this.
    with hostile_server() as server:
        started = time.monotonic()
        error, _ = refuse(
            f"{server.origin}/stall?steps=4&every=0.4&silence=20",
            trusted_origin=server.origin,
            deadline_seconds=2.0,
        )
        elapsed = time.monotonic() - started
    assert "too long" in error.message
    assert not error.retryable
    assert 1.9 < elapsed < 2.6


def test_it_keeps_to_the_deadline_when_a_server_drips():
    with hostile_server() as server:
        started = time.monotonic()
        error, _ = refuse(
            f"{server.origin}/stall?steps=1000&every=0.2",
            trusted_origin=server.origin,
            deadline_seconds=1.0,
        )
        elapsed = time.monotonic() - started
    assert "too long" in error.message
    assert elapsed < 1.6


def test_it_keeps_to_the_deadline_when_dns_is_slow():
    def slow(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["93.184.216.34"]

    started = time.monotonic()
    error, attempts = refuse("https://slow.example/x.png", resolver=slow, deadline_seconds=0.5)
    assert "took too long to resolve" in error.message
    assert time.monotonic() - started < 1.0
    assert attempts == []


def test_it_does_not_decompress_a_gzip_body():
    with hostile_server() as server:
        error, _ = refuse(f"{server.origin}/gzip", trusted_origin=server.origin)
    assert "not a PNG, JPEG or WebP" in error.message


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width``x``height`` and carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<!doctype html><html><body>hi</body></html>", "not a PNG, JPEG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "not a PNG"),
        (b"GIF89a" + b"\x00" * 32, "not a PNG"),
        (png_header_only(5000, 5000), "5000x5000 pixels, over the pixel cap"),
        (bomb_png(), "could not be decoded"),  # Pillow's own bomb guard answers first
        (png_bytes()[:60], "could not be decoded"),
    ],
)
def test_it_refuses_bytes_that_are_not_a_safe_image(data, message):
    with pytest.raises(UnsafeResult) as caught:
        downloader._decode(data, max_pixels=16_777_216)
    assert message in caught.value.message


def test_it_reads_the_size_of_a_real_image():
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "WEBP")
    image = downloader._decode(out.getvalue(), max_pixels=10_000)
    assert (image.format, image.width, image.height) == ("WEBP", 64, 48)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::1", False),
        ("2002:5db8:d822::1", True),  # 6to4 wrapping a public address
        ("64:ff9b::a00:1", False),
        ("ff0e::1", False),
        ("255.255.255.255", False),
        ("not an address", False),
    ],
)
def test_it_judges_addresses(address, public):
    assert downloader._is_public(address) is public


def test_the_default_resolver_is_looked_up_at_call_time(monkeypatch):
    monkeypatch.setattr(downloader, "resolve", resolver_to({"internal.example": ["10.0.0.7"]}))
    with recording_connections() as log, pytest.raises(UnsafeResult, match="private network"):
        fetch_image("https://internal.example/x.png", trusted_origin=TRUSTED)
    assert log.attempts == []
    assert socket.create_connection.__name__ == "create_connection"  # the guard is gone again


def test_it_speaks_idna_for_a_name_in_another_script():
    with hostile_server() as server:
        origin = f"http://xn--bcher-kva.test:{server.port}"  # bücher.test
        names = resolver_to({"xn--bcher-kva.test": ["127.0.0.1"]})
        fetch_image(f"http://bücher.test:{server.port}/png", trusted_origin=origin, resolver=names)
    assert server.seen == [("/png", f"xn--bcher-kva.test:{server.port}")]


def test_it_refuses_a_host_name_that_is_not_valid():
    error, attempts = refuse(f"https://{'a' * 64}.example/x.png")  # a label over 63 characters
    assert "not valid" in error.message
    assert attempts == []


def test_it_opens_a_new_connection_for_every_hop():
    # A connection kept alive from one hop must not carry the next hop (made for another name).
    with hostile_server() as server, recording_connections() as log:
        fetch_image(
            f"{server.origin}/redirect?to={server.origin}/png", trusted_origin=server.origin
        )
    assert log.attempts == [("127.0.0.1", server.port)] * 2
