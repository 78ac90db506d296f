"""Fault tests, items 17-19 of docs/reliability.md: hostile result URLs and bodies, through the
whole lifecycle against the simulator. Names that must resolve to private addresses are resolved
in-process; the connection guard refuses anything off loopback, so no test sends traffic there
even when it fails."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from unittest import mock
from urllib.parse import urlsplit

import pytest

from generations import downloader
from generations.downloader import MESSAGES
from generations.models import LedgerEntry, Status
from generations.rivya import RivyaClient
from tests.faults.network import recording_connections, resolver_to
from tests.support import ledger_entries_of, media_files, new_generation, run_until_finished

pytestmark = pytest.mark.django_db

NOT_HTTPS = MESSAGES["bad_address"]
PRIVATE = MESSAGES["private_address"]


def sim_port(sim) -> int:
    return int(urlsplit(sim.base_url).port or 0)


def run_hostile(sim, alice, prompt: str):
    """Run a generation to its end, recording every connection the app opened."""
    generation = new_generation(alice, prompt)
    with recording_connections() as log:
        finished = run_until_finished(generation.pk)
    return finished, log


def results_answering(url: str):
    """Rivya (the simulator) answers as usual, except that a finished task's image is ``url``."""
    real = RivyaClient.get_generation

    def get_generation(self, task_id):
        task = real(self, task_id)
        return dataclasses.replace(task, urls=[url]) if task.status == "succeeded" else task

    return mock.patch.object(RivyaClient, "get_generation", get_generation)


# -- 17: private addresses and other schemes ----------------------------------------------


@pytest.mark.fault(17)
@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("[sim:redirect_private]", NOT_HTTPS),  # 302 to http://169.254.169.254/...
        ("[sim:private_url]", NOT_HTTPS),  # http://10.0.0.1/x.png
        ("[sim:http_url]", NOT_HTTPS),  # http://example.com/x.png
    ],
)
def test_it_fails_a_result_pointing_at_a_private_or_plain_http_address(sim, alice, marker, reason):
    generation, log = run_hostile(sim, alice, f"Harbour {marker}")
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_unsafe"
    assert reason in generation.error_message
    assert "the studio refused to keep the file" in generation.error_message
    assert set(log.attempts) <= {("127.0.0.1", sim_port(sim))}  # only the API itself
    assert media_files() == []


@pytest.mark.fault(17)
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{other}/x.png", NOT_HTTPS),  # loopback, not the API's origin
        ("https://127.0.0.1/x.png", PRIVATE),
        ("https://169.254.169.254/latest/meta-data", PRIVATE),
        ("https://[::1]/x.png", PRIVATE),
        ("https://[::ffff:127.0.0.1]/x.png", PRIVATE),
        ("https://10.20.30.40/x.png", PRIVATE),
        ("https://192.168.1.20/x.png", PRIVATE),
        ("https://2130706433/x.png", PRIVATE),
        ("https://cdn.rivya.example/x.png", PRIVATE),  # a name that resolves inward
        ("ftp://cdn.rivya.example/x.png", NOT_HTTPS),
    ],
)
def test_it_connects_nowhere_but_the_api_for_an_inward_result(sim, alice, monkeypatch, url, reason):
    monkeypatch.setattr(
        downloader, "resolve", resolver_to({"cdn.rivya.example": ["10.0.0.9", "93.184.216.34"]})
    )
    url = url.format(other=sim_port(sim) + 1)
    with results_answering(url):
        generation, log = run_hostile(sim, alice, "A fox in snow")
    assert generation.status == Status.FAILED
    assert reason in generation.error_message
    assert set(log.attempts) <= {("127.0.0.1", sim_port(sim))}


@pytest.mark.fault(17)
def test_it_follows_a_redirect_that_stays_with_the_api(sim, alice):
    generation, log = run_hostile(sim, alice, "A fox in snow [sim:redirect]")
    assert generation.status == Status.SUCCEEDED
    assert set(log.attempts) == {("127.0.0.1", sim_port(sim))}


# -- 18: too big, too slow, lying ---------------------------------------------------------


@pytest.mark.fault(18)
@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("[sim:huge]", MESSAGES["too_large"]),  # 40 MiB, honestly declared
        ("[sim:drip]", MESSAGES["too_slow"]),  # one byte a second
        ("[sim:lie_length]", MESSAGES["not_an_image"]),  # claims 1000 bytes: a cut-off PNG
    ],
)
def test_it_aborts_a_result_that_is_too_big_or_too_slow_within_the_deadline(
    sim, alice, settings, marker, reason
):
    settings.RESULT_MAX_BYTES = 3_000_000
    settings.RESULT_DEADLINE_SECONDS = 2.0
    started = time.monotonic()
    generation, _ = run_hostile(sim, alice, f"Slow river {marker}")
    elapsed = time.monotonic() - started
    assert generation.status == Status.FAILED
    assert reason in generation.error_message
    assert elapsed < 2.0 + 3.0  # the deadline, plus the simulator's 0.3 s and a few polls
    assert media_files() == []  # nothing half-written
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert "release" in kinds or "charge" in kinds  # the reservation was settled


@pytest.mark.fault(18)
def test_it_stops_reading_a_body_longer_than_the_cap_without_a_declared_length(
    sim, alice, settings
):
    # lie_length streams far past its claim; a smaller cap than the claim shows the cap, not h11.
    settings.RESULT_MAX_BYTES = 500
    generation, _ = run_hostile(sim, alice, "Slow river [sim:lie_length]")
    assert generation.status == Status.FAILED
    assert MESSAGES["too_large"] in generation.error_message
    assert media_files() == []


# -- 19: not an image, or a bomb ----------------------------------------------------------


@pytest.mark.fault(19)
@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("[sim:html]", MESSAGES["not_an_image"]),
        ("[sim:svg]", MESSAGES["not_an_image"]),
        ("[sim:bomb]", MESSAGES["too_many_pixels"]),
    ],
)
def test_it_refuses_a_result_that_is_not_a_safe_image(sim, alice, marker, reason):
    generation, _ = run_hostile(sim, alice, f"Odd one {marker}")
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_unsafe"
    assert reason in generation.error_message
    for library_words in ("Pillow", "decompression bomb", "cannot identify", "DOS attack"):
        assert library_words not in generation.error_message  # the studio's words only
    assert media_files() == []


MEASURE = r"""
import json, os, sys, threading, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagen_site.settings")
django.setup()
from PIL import Image, PngImagePlugin
from generations.downloader import UnsafeResult, fetch_image
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
def peak_growth(work):
    # Sample the resident set every millisecond while work runs: its peak, not just the end.
    start, peak, done = rss(), [rss()], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss()); time.sleep(0.001)
    sampler = threading.Thread(target=sample); sampler.start()
    try:
        result = work()
    finally:
        done.set(); sampler.join()
    return result, (max(peak[0], rss()) - start) // 1024
def refuse():
    try:
        fetch_image(sys.argv[1], trusted_origin=sys.argv[2], max_pixels=16_777_216)
    except UnsafeResult as exc:
        return exc.message
    return ""
refused, refusal_kb = peak_growth(refuse)
# Calibration: a 64 MB image, filled, to show the measure sees Pillow's own allocations.
_, probe_kb = peak_growth(lambda: Image.new("L", (8000, 8000), 255))
print(json.dumps({"refused": refused, "refusal_kb": refusal_kb, "probe_kb": probe_kb}))
"""


@pytest.mark.fault(19)
def test_it_refuses_a_decompression_bomb_without_taking_the_workers_memory(sim, alice):
    generation, _ = run_hostile(sim, alice, "Blank [sim:bomb]")
    url = f"{sim.base_url}/results/{generation.remote_task_id}/1.png"
    # A fresh process, so that the peak RSS is not already high from other tests.
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, url, sim.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["refused"]  # decoded, the bomb would be 30000 x 30000 = 900 MB
    assert figures["refusal_kb"] < 20 * 1024, figures
    assert figures["probe_kb"] > 50 * 1024, figures


# -- 32: audit finding 6, site-local addresses and a redirect into the API --------------------


@pytest.mark.fault(32)
@pytest.mark.parametrize(
    "url",
    [
        "https://[fec0::1]/x.png",  # site-local, which Python's is_global calls global
        "https://[fec0::1:2]:8443/x.png",
        "https://site-local.rivya.example/x.png",  # a name that resolves to site-local
        "https://[64:ff9b::a9fe:a9fe]/x.png",  # NAT64 wrapping 169.254.169.254
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x.png",  # Teredo
        "https://100.64.1.2/x.png",  # carrier-grade NAT
        "https://198.18.0.1/x.png",  # benchmarking
    ],
)
def test_it_refuses_a_site_local_or_other_special_result_address(sim, alice, monkeypatch, url):
    names = {"site-local.rivya.example": ["fec0::7"]}
    monkeypatch.setattr(downloader, "resolve", resolver_to(names))
    with results_answering(url):
        generation, log = run_hostile(sim, alice, "A fox in snow")
    assert (generation.status, generation.error_code) == (Status.FAILED, "result_unsafe")
    assert PRIVATE in generation.error_message
    assert set(log.attempts) <= {("127.0.0.1", sim_port(sim))}  # only the API itself
    assert ledger_entries_of(generation)[-1][0] == "charge"  # Rivya made it, and charged for it


@pytest.mark.fault(32)
def test_it_refuses_a_redirect_from_another_host_into_the_api(
    sim, alice, monkeypatch, download_counter
):
    # The result lives on a public https host that redirects into the API's own origin (plain
    # http on loopback, trusted only for URLs that start there). No test may reach a public
    # host, so that one hop is played here; every hop after it is the downloader's own.
    monkeypatch.setattr(
        downloader, "resolve", resolver_to({"cdn.rivya.example": ["93.184.216.34"]})
    )
    real_hop = downloader._get
    hops: list[str] = []

    def hop(client, url, address, deadline, max_bytes):
        hops.append(url)
        if url.startswith("https://cdn.rivya.example/"):
            return b"", f"{sim.base_url}/results/{generation.remote_task_id}/1.png"
        return real_hop(client, url, address, deadline, max_bytes)

    monkeypatch.setattr(downloader, "_get", hop)
    generation = new_generation(alice, "A fox in snow")
    with results_answering("https://cdn.rivya.example/x.png"), recording_connections() as log:
        finished = run_until_finished(generation.pk)
    assert (finished.status, finished.error_code) == (Status.FAILED, "result_unsafe")
    assert MESSAGES["bad_redirect"] in finished.error_message
    assert hops == ["https://cdn.rivya.example/x.png"]  # the API's result was never asked for
    assert download_counter() == 0
    assert set(log.attempts) <= {("127.0.0.1", sim_port(sim))}
