"""Result downloads and the result modes (set by fault switch or by prompt marker)."""

from __future__ import annotations

import io
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.simulator.support import wait_until_finished


@pytest.fixture(autouse=True)
def _quick(sim):
    sim.delay = 0.05


@pytest.fixture
def succeed(client, create):
    """Create a task with these fields, wait for it, return the finished task object."""

    def run(**fields: Any) -> dict[str, Any]:
        return wait_until_finished(client, create(**fields).json()["id"])

    return run


def picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@pytest.mark.parametrize(
    ("model", "params", "size"),
    [
        ("google-imagen4", {}, (1024, 1024)),
        ("google-imagen4-fast", {}, (1408, 768)),
        ("google-imagen4", {"aspect_ratio": "9:16"}, (768, 1408)),
        ("google-imagen4-ultra", {"aspect_ratio": "3:4"}, (896, 1280)),
        ("z-image", {"aspect_ratio": "4:3"}, (1280, 896)),
        ("4o-image", {"size": "3:2"}, (1536, 1024)),
        ("4o-image", {"size": "2:3"}, (1024, 1536)),
    ],
)
def test_it_serves_a_real_png_of_the_aspect_ratio(client, succeed, model, params, size):
    task = succeed(model=model, params=params)
    assert picture(client.get(task["result"]["primary_url"])).size == size


def test_it_draws_the_same_picture_for_the_same_prompt_and_seed(client, succeed):
    one = succeed(prompt="A red fox", params={"seed": "42"})
    two = succeed(prompt="A red fox", params={"seed": "42"})
    other = succeed(prompt="A blue whale", params={"seed": "42"})
    first = client.get(one["result"]["primary_url"]).content
    assert client.get(two["result"]["primary_url"]).content == first
    assert client.get(other["result"]["primary_url"]).content != first


def test_it_keeps_a_random_seed_per_task(client, succeed):
    task = succeed(prompt="No seed")
    url = task["result"]["primary_url"]
    assert client.get(url).content == client.get(url).content


def test_it_answers_404_for_a_result_not_ready(client, create):
    task_id = create(prompt="Slow [sim:never]").json()["id"]
    assert client.get(f"/results/{task_id}/1.png").status_code == 404
    assert client.get("/results/task_00/1.png").status_code == 404


def test_it_applies_the_result_mode_to_tasks_created_while_set(sim, client, create):
    sim.faults.result_mode = "fail"
    failing = create().json()["id"]
    sim.faults.result_mode = "ok"
    assert wait_until_finished(client, failing)["status"] == "failed"


def test_it_serves_two_different_pictures_in_multi_mode(client, succeed):
    task = succeed(prompt="Two moons [sim:multi]")
    first, second = task["result"]["urls"]
    assert task["result"]["primary_url"] == first
    assert picture(client.get(first)).size == picture(client.get(second)).size
    assert client.get(first).content != client.get(second).content


@pytest.mark.parametrize(
    ("marker", "url"),
    [("private_url", "http://10.0.0.1/x.png"), ("http_url", "http://example.com/x.png")],
)
def test_it_can_point_results_elsewhere(succeed, marker, url):
    task = succeed(prompt=f"Away [sim:{marker}]")
    assert task["result"] == {"primary_url": url, "urls": [url]}


def test_it_redirects_to_a_same_origin_url(sim, client, succeed):
    url = succeed(prompt="Hop [sim:redirect]")["result"]["primary_url"]
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{sim.base_url}/results/")
    assert picture(client.get(url, follow_redirects=True)).size == (1024, 1024)


def test_it_redirects_to_the_metadata_address(client, succeed):
    url = succeed(prompt="Hop [sim:redirect_private]")["result"]["primary_url"]
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["location"] == "http://169.254.169.254/latest/meta-data"


def test_it_serves_html_as_a_result(client, succeed):
    response = client.get(succeed(prompt="[sim:html]")["result"]["primary_url"])
    assert response.headers["content-type"].startswith("text/html")
    assert b"<html>" in response.content


def test_it_serves_svg_as_a_result(client, succeed):
    response = client.get(succeed(prompt="[sim:svg]")["result"]["primary_url"])
    assert response.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in response.content


def test_it_serves_a_decompression_bomb(client, succeed):
    response = client.get(succeed(prompt="[sim:bomb]")["result"]["primary_url"])
    assert response.headers["content-type"] == "image/png"
    assert len(response.content) < 200_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(response.content))


def test_the_bomb_really_is_30000_pixels_square(client, succeed, monkeypatch):
    response = client.get(succeed(prompt="[sim:bomb]")["result"]["primary_url"])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert Image.open(io.BytesIO(response.content)).size == (30_000, 30_000)


def test_it_streams_a_huge_result(client, succeed):
    url = succeed(prompt="[sim:huge]")["result"]["primary_url"]
    total = 0
    with client.stream("GET", url) as response:
        assert response.headers["content-length"] == str(40 * 1024 * 1024)
        for chunk in response.iter_raw():
            if total == 0:
                assert chunk.startswith(b"\x89PNG")
            total += len(chunk)
    assert total == 40 * 1024 * 1024


def test_it_accepts_a_hanging_result_request_and_never_answers(client, succeed):
    url = succeed(prompt="[sim:hang]")["result"]["primary_url"]
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=httpx.Timeout(5.0, read=0.5))


def test_it_drips_a_result_one_byte_a_second(client, succeed):
    url = succeed(prompt="[sim:drip]")["result"]["primary_url"]
    arrivals = []
    with client.stream("GET", url) as response:
        assert int(response.headers["content-length"]) > 1000
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic(), chunk))
            if len(arrivals) == 2:
                break
    (first_at, first), (second_at, second) = arrivals
    assert first + second == b"\x89P"
    assert second_at - first_at >= 0.9


def test_it_lies_about_the_content_length(sim, succeed):
    url = urlsplit(succeed(prompt="[sim:lie_length]")["result"]["primary_url"])
    with socket.create_connection((url.hostname, url.port), timeout=5) as raw:
        raw.sendall(f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        data = bytearray()
        while chunk := raw.recv(1 << 20):
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert b"Content-Length: 1000" in head
    assert body.startswith(b"\x89PNG")
    assert len(body) > 20 * 1024 * 1024
