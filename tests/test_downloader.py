"""The safe downloader, directly: which addresses it refuses, that it connects only to the
address it checked, and that its byte cap and deadline hold. Only loopback receives traffic."""

from __future__ import annotations

import io
import logging
import socket
import ssl
import struct
import time
import zlib

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from generations import downloader
from generations.downloader import MESSAGES, UnsafeResult, fetch_image, fetch_result
from rivya_sim.images import bomb_png
from tests.faults.network import hostile_server, recording_connections, resolver_to
from tests.support import png_bytes

TRUSTED = "http://127.0.0.1:9"  # the API's origin in these tests; nothing listens there
settings_for_properties = hypothesis_settings(max_examples=150, deadline=None)

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
        "https://[fec0::1]/x.png",  # site-local (audit 6: it passed as global)
        "https://[64:ff9b::a00:1]/x.png",  # NAT64 wrapping 10.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x.png",  # Teredo
        "https://[::7f00:1]/x.png",  # IPv4-compatible 127.0.0.1
        "https://0.1.2.3/x.png",
        "https://198.18.0.1/x.png",
        "https://internal.example/x.png",
        "https://mixed.example/x.png",
        "https://metadata.example/x.png",
        "https://v6-loopback.example/x.png",
        "https://v6-mapped.example/x.png",
    ],
)
def test_it_refuses_private_addresses_without_connecting(url):
    error, attempts = refuse(url)
    assert (error.reason, error.message) == ("private_address", MESSAGES["private_address"])
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
    assert error.reason == "bad_address"
    assert "only https" in error.detail or "no host" in error.detail
    assert attempts == []


def test_it_refuses_a_url_with_a_user_name():
    error, attempts = refuse("https://user:secret@images.example/x.png")
    assert error.reason == "bad_address"
    assert "user name or password" in error.detail
    assert "secret" not in error.message + error.detail
    assert attempts == []


def test_it_refuses_a_url_with_an_impossible_port():
    error, attempts = refuse("https://images.example:99999/x.png")
    assert (error.reason, error.message) == ("bad_address", MESSAGES["bad_address"])
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
    assert error.reason in ("bad_address", "private_address")
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
    assert (error.reason, error.detail) == ("bad_redirect", "more than 3 redirects")
    assert len(attempts) == 4


def test_it_refuses_a_declared_length_over_the_cap_before_reading():
    with hostile_server() as server:
        started = time.monotonic()
        error, _ = refuse(
            f"{server.origin}/stall?silence=5", trusted_origin=server.origin, max_bytes=50_000
        )
    assert (error.reason, error.message) == ("too_large", MESSAGES["too_large"])
    assert error.detail == "declared 100000 bytes, over 50000"
    assert time.monotonic() - started < 1.0


def test_it_stops_reading_at_the_byte_cap_when_no_length_is_declared():
    with hostile_server() as server:
        error, _ = refuse(
            f"{server.origin}/big?n=5000000", trusted_origin=server.origin, max_bytes=1_000_000
        )
    assert (error.reason, error.detail) == ("too_large", "more than 1000000 bytes")


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
    assert (error.reason, error.message) == ("too_slow", MESSAGES["too_slow"])
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
    assert error.reason == "too_slow"
    assert elapsed < 1.6


def test_it_keeps_to_the_deadline_when_dns_is_slow():
    def slow(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["93.184.216.34"]

    started = time.monotonic()
    error, attempts = refuse("https://slow.example/x.png", resolver=slow, deadline_seconds=0.5)
    assert (error.reason, error.detail) == ("too_slow", "slow.example took too long to resolve")
    assert time.monotonic() - started < 1.0
    assert attempts == []


def test_it_does_not_decompress_a_gzip_body():
    with hostile_server() as server:
        error, _ = refuse(f"{server.origin}/gzip", trusted_origin=server.origin)
    assert error.reason == "not_an_image"


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
    ("data", "reason", "detail"),
    [
        (b"<!doctype html><html><body>hi</body></html>", "not_an_image", "starts with b'<!doctype"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "not_an_image", ""),
        (b"GIF89a" + b"\x00" * 32, "not_an_image", "starts with b'GIF89a"),
        (png_header_only(5000, 5000), "too_many_pixels", "5000x5000 pixels, over 16777216"),
        (bomb_png(), "too_many_pixels", "Pillow: "),  # Pillow's own bomb guard answers first
        (png_bytes()[:60], "not_an_image", "Pillow: "),
    ],
)
def test_it_refuses_bytes_that_are_not_a_safe_image(data, reason, detail):
    with pytest.raises(UnsafeResult) as caught:
        downloader._decode(data, max_pixels=16_777_216)
    assert (caught.value.reason, caught.value.message) == (reason, MESSAGES[reason])
    assert caught.value.detail.startswith(detail)


def test_it_keeps_pillows_words_out_of_the_message():
    with pytest.raises(UnsafeResult) as caught:
        downloader._decode(bomb_png(), max_pixels=16_777_216)
    assert "decompression bomb" in caught.value.detail  # for the logs and the admins
    assert "decompression" not in caught.value.message
    assert caught.value.message == "The picture has more pixels than the studio accepts."


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
        ("2620:4f:8000::1", True),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),  # IPv4-mapped: judged as the IPv4 address it carries
        ("2002:7f00:1::1", False),
        ("2002:5db8:d822::1", True),  # 6to4 wrapping a public address
        ("64:ff9b::a00:1", False),  # NAT64 wrapping 10.0.0.1
        ("64:ff9b::c0a8:101", False),  # NAT64 wrapping 192.168.1.1
        ("64:ff9b::5db8:d822", True),  # NAT64 wrapping a public address
        ("64:ff9b:1::5db8:d822", False),  # NAT64 for local use
        ("fec0::1", False),  # site-local (audit 6)
        ("feff:ffff::1", False),  # the top of site-local
        ("fc00::1", False),  # unique-local
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("2001:2::1", False),  # benchmarking
        ("2001:db8::1", False),  # documentation
        ("3fff::1", False),  # documentation (newer than some is_global tables)
        ("100::1", False),  # discard
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::5db8:d822", False),  # IPv4-compatible, deprecated: never
        ("::", False),
        ("::1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address judged, not bound)
        ("0.1.2.3", False),  # "this network", 0.0.0.0/8
        ("100.64.0.1", False),  # carrier-grade NAT
        ("100.127.255.254", False),
        ("198.18.0.1", False),  # benchmarking
        ("198.19.255.254", False),
        ("192.0.2.1", False),
        ("192.88.99.1", False),  # 6to4 relay anycast
        ("169.254.169.254", False),
        ("ff0e::1", False),
        ("224.0.0.1", False),
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
    assert (error.reason, error.message) == ("bad_address", MESSAGES["bad_address"])
    assert "host name not valid" in error.detail
    assert attempts == []


def test_it_opens_a_new_connection_for_every_hop():
    # A connection kept alive from one hop must not carry the next hop (made for another name).
    with hostile_server() as server, recording_connections() as log:
        fetch_image(
            f"{server.origin}/redirect?to={server.origin}/png", trusted_origin=server.origin
        )
    assert log.attempts == [("127.0.0.1", server.port)] * 2


# -- Trust in the API's origin: only where the URL started (audit 6) ----------------------------


def hops_answering(monkeypatch, *locations: str) -> list[str]:
    """Replace the one network hop: each call answers the next redirect (no network). The
    first hop of these tests is an https host on the internet, which no test may reach."""
    asked: list[str] = []
    answers = iter(locations)

    def hop(client, url, address, deadline, max_bytes):
        asked.append(url)
        return b"", next(answers)

    monkeypatch.setattr(downloader, "_get", hop)
    return asked


def test_it_refuses_a_redirect_from_another_host_into_the_api(monkeypatch):
    asked = hops_answering(monkeypatch, f"{TRUSTED}/results/task_1/1.png")
    error, _ = refuse("https://images.example/x.png")
    assert (error.reason, error.message) == ("bad_redirect", MESSAGES["bad_redirect"])
    assert "into the API" in error.detail
    assert asked == ["https://images.example/x.png"]  # the API was never asked


def test_it_does_not_trust_the_api_again_after_leaving_it(monkeypatch):
    asked = hops_answering(
        monkeypatch, "https://images.example/x.png", f"{TRUSTED}/results/task_1/1.png"
    )
    error, _ = refuse(f"{TRUSTED}/results/task_1/1.png")
    assert error.reason == "bad_redirect"
    assert asked == [f"{TRUSTED}/results/task_1/1.png", "https://images.example/x.png"]


# -- A whole result: at most four images, one deadline, one byte budget -------------------------


def test_it_fetches_at_most_four_images_of_a_result_and_logs_the_rest(settings, caplog):
    with hostile_server() as server:
        settings.RIVYA_BASE_URL = server.origin
        urls = [f"{server.origin}/png?n={n}" for n in range(7)]
        with caplog.at_level(logging.WARNING, logger="generations.downloader"):
            images = fetch_result(urls)
    assert len(images) == downloader.MAX_RESULT_IMAGES == 4
    assert [path for path, _ in server.seen] == [f"/png?n={n}" for n in range(4)]
    assert "dropped 3" in caplog.text


def test_it_refuses_a_result_without_an_address():
    with pytest.raises(UnsafeResult) as caught:
        fetch_result([])
    assert (caught.value.reason, caught.value.message) == ("no_address", MESSAGES["no_address"])


def test_it_keeps_one_byte_budget_for_all_of_a_results_images(settings):
    size = len(png_bytes(32, 24))  # what the hostile server's /png serves
    settings.RESULT_MAX_TOTAL_BYTES = 2 * size + size // 2  # two pictures and a half
    with hostile_server() as server:
        settings.RIVYA_BASE_URL = server.origin
        with pytest.raises(UnsafeResult) as caught:
            fetch_result([f"{server.origin}/png?n={n}" for n in range(3)])
    assert caught.value.reason == "too_large"
    assert caught.value.detail == f"declared {size} bytes, over {size // 2}"


def test_it_keeps_one_deadline_for_all_of_a_results_images(settings):
    settings.RESULT_DEADLINE_SECONDS = 1.5
    with hostile_server() as server:
        settings.RIVYA_BASE_URL = server.origin
        started = time.monotonic()
        with pytest.raises(UnsafeResult) as caught:
            # Each alone is well within the deadline; all three together are not.
            fetch_result([f"{server.origin}/slow-png?wait=0.6&n={n}" for n in range(3)])
        elapsed = time.monotonic() - started
    assert caught.value.reason == "too_slow"
    assert elapsed < 2.2  # the deadline, not three times 0.6 s plus each image's own 1.5 s


@settings_for_properties
@given(url=st.text(max_size=60) | st.from_regex(r"(https?|ftp)://[^/]{0,20}/?.{0,10}"))
def test_any_address_is_fetched_or_refused_as_unsafe(url):
    judged = judge(url)  # anything but an address or an UnsafeResult would fail here
    if isinstance(judged, UnsafeResult):
        assert judged.reason in MESSAGES
        assert judged.message == MESSAGES[judged.reason]
    else:
        assert downloader._is_public(judged) or judged == "127.0.0.1"  # the API's own


def judge(url: str) -> str | UnsafeResult:
    try:
        return downloader.check_url(url, trusted_origin=TRUSTED, resolver=resolver_to(NAMES))
    except UnsafeResult as error:
        return error


def test_every_image_is_fetched_with_certificate_checks_made_once_per_process():
    """Made once (reading the CA bundle costs ~18 ms a time), and still checking certificates
    and names as httpx's default does."""
    context = downloader._tls()
    assert downloader._tls() is context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
