"""Two machines' worth of the studio on one: two web processes (gunicorn) and two Celery workers,
each with its own data folder (no disk shared), on one database, one Redis and one S3-compatible
bucket. A generation submitted through one web process is made by whichever worker takes it and
shown, image included, through the other; a worker killed mid-job leaves it to the other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from generations import tasks
from generations.models import Generation, Status
from tests.faults.processes import Broker, WebProcess
from tests.support import let_lease_run_out, signed_in, wait_until_status

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture
def nodes(
    workers, broker, private_redis, s3_server, s3_media, tmp_path
) -> dict[str, dict[str, str]]:
    """The environment of each node: the shared services, and a data folder of its own."""
    shared = {**workers.base_env, **s3_server.settings(s3_media), "CELERY_BROKER_URL": ""}
    redis_url = broker.url or private_redis.url  # the embedded tier's broker is a folder
    Broker(redis_url, broker.data_dir).use()  # where this test process sends (the reconciler)
    shared["CELERY_BROKER_URL"] = redis_url

    def node(name: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir()
        return {**shared, "IMAGEN_DATA_DIR": str(folder), "MEDIA_ROOT": str(folder / "media")}

    return {name: node(name) for name in ("web-a", "web-b", "worker-a", "worker-b")}


@pytest.fixture
def webs(nodes, tmp_path) -> Iterator[tuple[WebProcess, WebProcess]]:
    started = [WebProcess(nodes[n], tmp_path / f"{n}.log").start() for n in ("web-a", "web-b")]
    yield started[0], started[1]
    for web in started:
        web.stop()


def browser(web: WebProcess, session: str) -> httpx.Client:
    return httpx.Client(base_url=web.url, cookies={"sessionid": session}, timeout=30)


def submit(page: httpx.Client, form: dict[str, str]) -> None:
    """The studio's form, sent as a browser sends it (with the page's CSRF token)."""
    home = page.get("/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home.text)
    assert token, "the page has no form"
    response = page.post("/generations/", data={**form, "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_generation_sent_through_one_web_node_is_shown_by_the_other_after_a_worker_dies(
    nodes, webs, workers, sim, alice, form_data
):
    web_a, web_b = webs
    session = signed_in(alice).cookies["sessionid"].value
    first = workers.start(**nodes["worker-a"])
    submit(browser(web_a, session), form_data(prompt="A harbour at dusk [sim:delay=4]"))
    generation = wait_until_status(Generation.objects.get().pk, Status.PROCESSING, timeout=30)

    workers.start(**nodes["worker-b"])
    first.kill()  # mid-job: Rivya is making the image, worker A was to look again
    let_lease_run_out(generation.pk)
    assert tasks.reconcile() == 1
    done = wait_until_status(generation.pk, Status.SUCCEEDED, Status.FAILED, timeout=60)
    assert done.status == Status.SUCCEEDED
    assert sim.state.create_requests == 1  # one task at Rivya, one charge

    page = browser(web_b, session)
    assert f'src="/media/{done.thumbnail.name}"' in page.get("/").text
    redirect = page.get(f"/media/{done.image.name}")
    assert redirect.status_code == 302
    image = httpx.get(redirect.headers["Location"])
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")
    for name in nodes:  # every image is in the bucket, none on a node's own disk
        assert files_under(Path(nodes[name]["MEDIA_ROOT"])) == []
