"""Shared fixtures: the named team (alice, bob, charlie), the simulator, and a Celery worker.
Only fixtures live here; the helpers tests import are in ``tests/support.py``.

The outside world is faked at one seam: the local Rivya simulator, started once per session on
a loopback port. Outside the tests that ask for it, the app points at a closed port, so no test
can reach a simulator or API that happens to run on this machine.

Images go to a folder of the test's own, or, when the environment names a bucket
(``AWS_STORAGE_BUCKET_NAME``: the production tier in ``.ci/run``), to a new bucket of the test's
own on the S3-compatible server, so the same tests run against both storages. A test about the
local folder itself asks for ``local_media``.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from django.utils import translation

from generations import catalogues, health, rivya
from generations.models import MemberPreference, Status
from imagen_site.celery import app as celery_app
from rivya_sim import Simulator
from tests.faults.processes import S3Server
from tests.rows import generation, ledger_entry, march_noon
from tests.support import CLOSED_PORT_URL, TEST_API_KEY, make_user, signed_in

# The production tier keeps every test's images in a bucket (see the module's docstring).
MEDIA_IN_BUCKET = bool(os.environ.get("AWS_STORAGE_BUCKET_NAME"))

# Tests publish to their own queue, on an in-memory broker unless CELERY_BROKER_URL names a real
# one (the production tier), so nothing reaches a worker outside this test run.
if not os.environ.get("CELERY_BROKER_URL"):
    celery_app.conf.update(broker_url="memory://")
celery_app.conf.update(task_default_queue=f"test-{uuid.uuid4().hex[:8]}")


def pytest_configure(config: pytest.Config) -> None:
    """Settings do no I/O: make the folder the SQLite test database lives in, and compile the
    translations, so a bare ``pytest`` works on a fresh clone (as after script/bootstrap)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        Path(database["TEST"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The .mo files are build products (git ignores them): a fresh clone's tests compile them,
    # as script/bootstrap does, before any translation is read.
    catalogues.compile_all()


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[None]:
    # The named users are made for every test; the production hasher would spend most of a
    # test's time on purpose-built slowness. Signing in still checks passwords, just quickly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    if MEDIA_IN_BUCKET:
        request.getfixturevalue("s3_media")
    settings.RIVYA_BASE_URL = CLOSED_PORT_URL
    settings.RIVYA_API_KEY = TEST_API_KEY
    settings.RIVYA_WEBHOOK_SECRET = ""
    for each in caches.all(initialized_only=True):
        each.clear()
    rivya.reset_client()
    yield
    rivya.reset_client()


DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


@pytest.fixture(autouse=True)
def _health_notes_need_the_database(request: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client notes every call in the database (generations/health.py). A test without the
    database (the client's own tests) notes nothing, instead of tripping pytest-django's guard
    inside the client. Each test starts with no success noted by this process."""
    monkeypatch.setattr(health, "_success_noted_at", 0.0)
    has_db = request.node.get_closest_marker("django_db") or (
        DATABASE_FIXTURES & set(request.fixturenames)
    )
    if not has_db:
        monkeypatch.setattr(health, "_write_note", lambda write: None)


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    sim = Simulator(api_key=TEST_API_KEY, delay=0.3).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator: Simulator, settings: Any) -> Iterator[Simulator]:
    """The simulator, reset, with the app pointed at it."""
    simulator.state.reset()
    simulator.faults.reset()
    settings.RIVYA_BASE_URL = simulator.base_url
    rivya.reset_client()
    yield simulator
    simulator.faults.reset()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The S3-compatible server: CI's (``S3_TEST_ENDPOINT_URL``, started by .ci/services), else
    one of this session's own. One that does not answer fails the test; nothing is skipped."""
    server = S3Server(os.environ.get("S3_TEST_ENDPOINT_URL", "")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_media(s3_server: S3Server, settings: Any) -> str:
    """Images in a new private bucket of the S3 server, as AWS_STORAGE_BUCKET_NAME would set it;
    returns the bucket's name."""
    bucket = f"imagen-test-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=bucket)
    for name, value in s3_server.settings(bucket).items():
        setattr(settings, name, value)
    default = {"BACKEND": "imagen_site.storage_s3.PrivateS3Storage"}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    return bucket


@pytest.fixture
def local_media(settings: Any) -> None:
    """Images in the test's local folder (MEDIA_ROOT) on every tier: for tests of the folder."""
    settings.AWS_STORAGE_BUCKET_NAME = ""
    default = {"BACKEND": "imagen_site.storage.LocalMediaStorage"}
    settings.STORAGES = {**settings.STORAGES, "default": default}


@pytest.fixture(autouse=True)
def the_default_language_between_tests() -> Iterator[None]:
    """A request activates its member's language and leaves it active in the thread (as Django's
    LocaleMiddleware does): put the default back, so a test after a Thai one reads English."""
    yield
    translation.deactivate()


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")


@pytest.fixture
def charlie(db: None) -> User:
    """The team's admin."""
    return make_user("charlie", staff=True)


@pytest.fixture
def alice_client(alice: User) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_client(bob: User) -> Client:
    return signed_in(bob)


@pytest.fixture
def charlie_client(charlie: User) -> Client:
    return signed_in(charlie)


@pytest.fixture
def alice_thai_client(alice: User) -> Client:
    """alice, signed in, having chosen Thai (saved with her account, as the switch saves it)."""
    MemberPreference.objects.create(user=alice, language="th")
    return signed_in(alice)


@pytest.fixture
def form_data() -> Callable[..., dict[str, str]]:
    def make(**overrides: str) -> dict[str, str]:
        data = {
            "form_token": str(uuid.uuid4()),
            "model": "google-imagen4",
            "prompt": "A lighthouse at dawn, watercolour",
            "aspect_ratio": "1:1",
            "negative_prompt": "",
            "seed": "",
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker in this process (a thread), on the test broker."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery_app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"
    ) as worker:
        yield worker
    # Its threads kept their database connections (CONN_MAX_AGE, imagen_site/celery.py); they
    # close when the finished threads' state is collected: now, not after the test database
    # is flushed or dropped (PostgreSQL refuses to drop one that others are connected to).
    gc.collect()


@pytest.fixture
def march_ledger(alice: User, bob: User) -> None:
    """The usage pages' ledger. alice: two google-imagen4 images charged 8 each on the 10th and
    11th, and 8 still held on the 12th (being made); bob: an google-imagen4-ultra image that
    failed on the 11th, its 12 credits held and given back."""
    for day in (10, 11):
        row = generation(alice, created_at=march_noon(day))
        ledger_entry(row, "reserve", 8, march_noon(day))
        ledger_entry(row, "charge", 8, march_noon(day))
    failed = generation(
        bob,
        Status.FAILED,
        model="google-imagen4-ultra",
        credits_reserved=12,
        created_at=march_noon(11),
    )
    ledger_entry(failed, "reserve", 12, march_noon(11))
    ledger_entry(failed, "release", 12, march_noon(11))
    pending = generation(alice, Status.PROCESSING, created_at=march_noon(12))
    ledger_entry(pending, "reserve", 8, march_noon(12))
