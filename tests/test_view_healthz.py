"""``GET /healthz``: for a load balancer, with no sign-in and nothing secret in it; 200 while the
database, the broker and the storage answer, 503 naming the part that does not, and 200 again
once it is back. An answer is kept for two seconds, so calling it often costs nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import connection

from imagen_site.celery import app as celery_app
from tests.faults.processes import RedisServer, S3Server, publish_to
from tests.support import CLOSED_PORT_URL

pytestmark = pytest.mark.django_db

ALL_OK = {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


def health(client) -> tuple[int, dict[str, str]]:
    cache.clear()  # the answer kept from before, gone: this asks every part again
    response = client.get("/healthz")
    assert response["Cache-Control"].startswith("max-age=0")
    return response.status_code, response.json()


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """This process's Celery app (what the check connects to) on another broker, for a while."""
    saved = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    publish_to(url, {"socket_connect_timeout": 1})
    try:
        yield
    finally:
        publish_to(*saved)


@pytest.fixture
def closed_broker():
    with publishing_to("redis://127.0.0.1:9/0"):
        yield


@contextmanager
def database_unreachable(tmp_path: Path) -> Iterator[None]:
    """Every new connection to the database goes where nothing answers: for PostgreSQL a closed
    port, for SQLite a file in a folder that does not exist (SQLite cannot open it). The check
    opens its own connection in its own thread, from this same settings dictionary (every
    thread's connection shares it), and closes it after; the test's own connection stays open
    and untouched, and the address is put back after."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("NAME", "HOST", "PORT")}
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    else:
        settings_dict["HOST"] = "127.0.0.1"
        settings_dict["PORT"] = str(urlsplit(CLOSED_PORT_URL).port)
    try:
        yield
    finally:
        settings_dict.update(saved)


def test_it_answers_200_with_every_part_ok_without_sign_in(client):
    assert health(client) == (200, ALL_OK)


def test_it_names_a_storage_folder_it_cannot_write_to(client, settings, tmp_path, local_media):
    (tmp_path / "a-file").write_text("not a folder")
    settings.MEDIA_ROOT = str(tmp_path / "a-file" / "media")
    assert health(client) == (503, {**ALL_OK, "status": "failing", "storage": "failing"})


def test_it_names_a_broker_that_does_not_answer(client, closed_broker):
    assert health(client) == (503, {**ALL_OK, "status": "failing", "broker": "failing"})


def test_it_goes_503_while_the_database_is_unreachable_and_200_when_it_is_back(client, tmp_path):
    assert health(client) == (200, ALL_OK)
    with database_unreachable(tmp_path):
        assert health(client) == (503, {**ALL_OK, "status": "failing", "database": "failing"})
    assert health(client) == (200, ALL_OK)


@pytest.mark.services
def test_it_goes_503_while_the_broker_is_stopped_and_200_when_it_is_back(client, tmp_path):
    """A real redis-server of this test's own, on a free port: stopped (SIGKILL, as a crash),
    then started again on the same port."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with publishing_to(redis.url):
            assert health(client) == (200, ALL_OK)
            redis.kill()
            assert health(client) == (503, {**ALL_OK, "status": "failing", "broker": "failing"})
            redis.start()
            assert health(client) == (200, ALL_OK)
    finally:
        redis.kill()


def test_it_keeps_an_answer_for_a_moment(client, settings, tmp_path, local_media):
    assert client.get("/healthz").status_code == 200
    (tmp_path / "a-file").write_text("not a folder")
    settings.MEDIA_ROOT = str(tmp_path / "a-file" / "media")
    assert client.get("/healthz").status_code == 200  # the kept answer: no part was asked
    assert health(client)[0] == 503


def test_it_refuses_post(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.services
def test_it_goes_503_while_the_bucket_is_stopped_and_200_when_it_is_back(client, settings):
    server = S3Server().start()
    try:
        bucket = f"imagen-health-{uuid.uuid4().hex[:12]}"
        server.client().create_bucket(Bucket=bucket)
        for name, value in server.settings(bucket).items():
            setattr(settings, name, value)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "imagen_site.storage_s3.PrivateS3Storage"},
        }
        assert health(client) == (200, ALL_OK)
        server.stop()
        assert health(client) == (503, {**ALL_OK, "status": "failing", "storage": "failing"})
        server.start()
        server.client().create_bucket(Bucket=bucket)  # moto keeps nothing over a restart
        assert health(client) == (200, ALL_OK)
    finally:
        server.stop()


def test_a_bucket_setting_that_leads_nowhere_is_failing(client, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "imagen-nowhere"
    settings.AWS_S3_ENDPOINT_URL = CLOSED_PORT_URL
    settings.AWS_ACCESS_KEY_ID = settings.AWS_SECRET_ACCESS_KEY = "unused"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "imagen_site.storage_s3.PrivateS3Storage"},
    }
    assert health(client) == (503, {**ALL_OK, "status": "failing", "storage": "failing"})


def test_a_load_balancer_may_ask_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301  # everything else goes to https
