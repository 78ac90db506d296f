"""The security audit's findings (issue 9), each reproduced and closed: sign-in behind a proxy,
no password reset, deleted images not served, credentials masked on the error page, any date on
the usage page, the proxy's TLS header only when there is a proxy, and the webhook table pruned.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, timedelta
from pathlib import Path

import httpx
import pytest
from axes.models import AccessAttempt, AccessLog
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter
from standardwebhooks import Webhook

from generations import signin, tasks, webhooks
from generations.models import Generation, WebhookEvent
from imagen_site.celery import app as celery_app
from tests.rows import generation
from tests.support import png_bytes, process_env, settings_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "alice-password-42"
WRONG = "wrong-password"
PROXY = "127.0.0.1"  # the proxy in front of gunicorn, as docs/production.md runs it
ALICE_HOME = "198.51.100.7"
MALLORY = "203.0.113.9"


# -- 38 (audit 1): sign-in lockout behind the proxy ------------------------------------------


def sign_in(username: str, password: str = WRONG, *, at: str, forged: str = ""):
    """A sign-in from a fresh browser at ``at``, through the proxy (which appends the address it
    saw to X-Forwarded-For, after whatever the browser wrote there itself: ``forged``)."""
    return Client().post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=", ".join(filter(None, [forged, at])),
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


@pytest.fixture
def slowdown(behind_proxy):
    behind_proxy.SIGNIN_SLOWDOWN_AFTER = 3  # fewer guesses to make than the default 10
    return behind_proxy


def time_passes_for(username: str, seconds: float) -> None:
    """Move this username's recorded failures back in time, as if ``seconds`` had passed."""
    AccessAttempt.objects.filter(username=username).update(
        attempt_time=F("attempt_time") - timedelta(seconds=seconds)
    )


@pytest.mark.fault(38)
def test_it_locks_out_only_the_guessers_address_behind_a_trusted_proxy(alice, behind_proxy):
    for _ in range(behind_proxy.AXES_FAILURE_LIMIT):
        sign_in("alice", at=MALLORY)
    assert sign_in("alice", PASSWORD, at=MALLORY).status_code == 429
    assert signed_in(sign_in("alice", PASSWORD, at=ALICE_HOME))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {MALLORY}


@pytest.mark.fault(38)
def test_it_does_not_believe_addresses_the_browser_wrote_itself(alice, behind_proxy):
    for number in range(behind_proxy.AXES_FAILURE_LIMIT):
        sign_in("alice", at=MALLORY, forged=f"192.0.2.{number}")
    locked = sign_in("alice", PASSWORD, at=MALLORY, forged="192.0.2.200")
    assert locked.status_code == 429


@pytest.mark.fault(38)
def test_it_ignores_forwarded_addresses_when_no_proxy_is_trusted(alice, settings):
    assert settings.TRUSTED_PROXY_COUNT == 0  # the default: gunicorn faces the browsers itself
    for number in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            "/accounts/login/",
            {"username": "alice", "password": WRONG},
            REMOTE_ADDR=MALLORY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
        )
    again = Client().post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR=MALLORY,
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    assert again.status_code == 429


@pytest.mark.fault(38)
def test_it_does_not_extend_a_lockout_with_failures_during_it(alice, behind_proxy):
    for _ in range(behind_proxy.AXES_FAILURE_LIMIT):
        sign_in("alice", at=ALICE_HOME)
    time_passes_for("alice", seconds=10 * 60)
    for _ in range(3):  # still locked out, and still guessing
        assert sign_in("alice", at=ALICE_HOME).status_code == 429
    time_passes_for("alice", seconds=6 * 60)  # 16 minutes since the lockout began
    assert signed_in(sign_in("alice", PASSWORD, at=ALICE_HOME))


SLOWED = "Sign-in for this username is slowed down after many wrong passwords"


def slowed(response) -> bool:
    return SLOWED in response.content.decode()


def spread_guesses(settings, username: str, extra: int = 5) -> None:
    """Wrong passwords for ``username``, a minute apart and each from another address, up to
    ``extra`` past the slowdown's threshold (so the next attempt waits 2**extra s)."""
    for number in range(settings.SIGNIN_SLOWDOWN_AFTER + extra):
        time_passes_for(username, seconds=60)
        response = sign_in(username, at=f"192.0.2.{number + 1}")
        assert response.status_code == 200  # each address stays far below its own limit
        assert not slowed(response)


@pytest.mark.fault(38)
def test_it_slows_guessing_spread_over_many_addresses(alice, slowdown):
    spread_guesses(slowdown, "alice")
    recorded = AccessAttempt.objects.count()
    assert slowed(sign_in("alice", at="192.0.2.250"))
    refused = sign_in("alice", PASSWORD, at="192.0.2.251")
    assert slowed(refused)
    assert not signed_in(refused)  # not even the right password is tried
    assert AccessAttempt.objects.count() == recorded  # a refused attempt is not a failure
    assert AccessAttempt.objects.filter(ip_address__in=["192.0.2.250", "192.0.2.251"]).count() == 0


@pytest.mark.fault(38)
def test_a_slowdown_never_locks_a_member_out(alice, slowdown):
    assert signed_in(sign_in("alice", PASSWORD, at=ALICE_HOME))  # her usual address
    spread_guesses(slowdown, "alice")
    assert slowed(sign_in("alice", PASSWORD, at="192.0.2.250"))
    # Where she has signed in before, others' guesses never slow her.
    assert signed_in(sign_in("alice", PASSWORD, at=ALICE_HOME))
    # Anywhere else she waits her turn (here 32 s after the latest guess), then gets in.
    time_passes_for("alice", seconds=32)
    assert signed_in(sign_in("alice", PASSWORD, at="192.0.2.250"))


@pytest.mark.fault(38)
def test_the_slowdown_grows_with_each_failure_up_to_its_cap(settings):
    after, cap = settings.SIGNIN_SLOWDOWN_AFTER, settings.SIGNIN_SLOWDOWN_MAX_SECONDS
    delays = [signin.slowdown_delay(after + extra).total_seconds() for extra in range(-1, 12)]
    assert delays[0] == 0  # below the threshold, no wait
    assert delays[1:4] == [1, 2, 4]
    assert delays == sorted(delays)
    assert max(delays) == cap


# What legitimately differs between two pages: the seconds left and the per-session tokens.
VARYING = re.compile(r'\d+ seconds?|(?<=csrfmiddlewaretoken" value=")\w+|(?<="X-CSRFToken": ")\w+')


@pytest.mark.fault(38)
def test_the_slowdown_looks_the_same_for_a_username_that_does_not_exist(alice, slowdown):
    spread_guesses(slowdown, "alice")
    spread_guesses(slowdown, "mallory")
    pages = []
    for username in ("alice", "mallory"):
        response = sign_in(username, at="192.0.2.250")
        assert response.status_code == 200
        assert slowed(response)
        pages.append(VARYING.sub("", response.content.decode()).replace(username, "U"))
    assert pages[0] == pages[1]


@pytest.mark.fault(38)
def test_the_admin_sign_in_is_slowed_too(charlie, slowdown):
    spread_guesses(slowdown, "charlie")
    response = Client().post(
        "/admin/login/",
        {"username": "charlie", "password": "charlie-password-42"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="192.0.2.250",
    )
    assert slowed(response)
    assert "_auth_user_id" not in response.client.session
    assert AccessLog.objects.count() == 0


# -- 39 (audit 2): no password reset ------------------------------------------------------------


@pytest.mark.fault(39)
@pytest.mark.parametrize(
    "url",
    [
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/reset/done/",
    ],
)
def test_it_does_not_offer_password_reset(alice, client, url):
    alice.email = "alice@example.com"
    alice.save()
    assert client.get(url).status_code == 404
    assert client.post(url, {"email": "alice@example.com"}).status_code == 404
    assert mail.outbox == []


@pytest.mark.fault(39)
def test_it_keeps_sign_in_sign_out_and_password_change(alice, client, alice_client):
    page = client.get("/accounts/login/").content.decode().lower()
    assert "reset" not in page
    assert "forgot" not in page
    changed = alice_client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-7",
            "new_password2": "a-new-long-passphrase-7",
        },
    )
    assert changed.status_code == 302
    assert changed.url == "/accounts/password_change/done/"
    assert alice_client.get(changed.url).status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("a-new-long-passphrase-7")
    assert alice_client.post("/accounts/logout/").status_code == 302


# -- 40 (audit 3): a deleted generation's images ----------------------------------------------


def files_of(row: Generation) -> list[str]:
    """The generation's image, thumbnail and a second image of its result."""
    name = default_storage.save(f"generations/{row.uuid}-1.png", ContentFile(png_bytes()))
    second = row.images.create(position=1, image=name, width=64, height=64)
    return [str(row.image.name), str(row.thumbnail.name), str(second.image.name)]


def fetch(client: Client, name: str) -> int:
    """What a member gets for ``/media/<name>``: the file from the folder, or with a bucket the
    answer of the signed URL the studio sends them to (200 either way when the image is given)."""
    response = client.get(f"/media/{name}")
    if response.status_code == 302 and not response["Location"].startswith("/"):
        return httpx.get(response["Location"], timeout=10).status_code
    return response.status_code


@pytest.mark.fault(40)
def test_it_does_not_serve_a_deleted_generations_images(alice, alice_client):
    kept, deleted = generation(alice), generation(alice)
    kept_files, deleted_files = files_of(kept), files_of(deleted)
    for name in kept_files + deleted_files:
        assert fetch(alice_client, name) == 200, name
    Generation.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    for name in deleted_files:
        assert fetch(alice_client, name) == 404, name
        # The same file, named another way, is not served either.
        folder, _, base = name.rpartition("/")
        for alias in (f"{folder}/./{base}", f"{folder}//{base}", f"./{name}", f"x/../{name}"):
            assert fetch(alice_client, alias) == 404, alias
    for name in kept_files:
        assert fetch(alice_client, name) == 200, name


@pytest.mark.fault(40)
def test_it_serves_no_file_that_no_generation_owns(alice_client):
    name = default_storage.save("generations/left-over.png", ContentFile(png_bytes()))
    assert fetch(alice_client, name) == 404


@pytest.mark.fault(40)
def test_it_looks_a_file_up_with_one_query(alice, alice_client):
    row = generation(alice)
    with CaptureQueriesContext(connection) as queries:
        assert fetch(alice_client, str(row.thumbnail.name)) == 200
    # The generation tables (the member's own query joins their preferences, another of ours).
    ours = [q["sql"] for q in queries.captured_queries if "generations_generation" in q["sql"]]
    assert len(ours) == 1, ours


def test_the_file_look_up_uses_indexes(alice):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plan is checked; PostgreSQL plans a tiny table as a scan anyway")
    from imagen_site.urls import owned_by_a_live_generation

    sql, params = owned_by_a_live_generation("thumbnails/x.webp").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert not re.search(r"SCAN generations_\w+(?! USING)", plan), plan


# -- 41 (audit 4): credentials on the debug error page ---------------------------------------

DB_URL = "postgres://imagen:db-s3cret-pw@db.internal:5432/imagen"
BROKER_URL = "amqp://worker:broker-s3cret-pw@rabbit.internal:5672//"
REDIS_URL = "redis://:redis-s3cret-pw@cache:6379/0"
SECRETS = ("db-s3cret-pw", "broker-s3cret-pw", "redis-s3cret-pw")


@pytest.mark.fault(41)
def test_it_masks_passwords_inside_urls_in_settings(settings):
    settings.DATABASE_URL = DB_URL
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.SOME_LIST = [f"text before {REDIS_URL} and after"]
    shown = get_default_exception_reporter_filter().get_safe_settings()
    text = json.dumps(shown, default=str)
    assert not any(secret in text for secret in SECRETS)
    assert shown["DATABASE_URL"] == "postgres://********************@db.internal:5432/imagen"
    assert "rabbit.internal:5672" in shown["CELERY_BROKER_URL"]
    assert shown["SOME_LIST"][0].startswith("text before redis://")
    assert shown["RIVYA_BASE_URL"] == settings.RIVYA_BASE_URL  # a URL without a password


def connect(broker_url: str) -> None:
    """Fail as a client library does, with the URL and its options in local variables."""
    options = {"url": broker_url, "retries": "3"}
    raise ConnectionError(f"could not reach {options['url'].rpartition('@')[2]}")


@pytest.mark.fault(41)
def test_the_debug_page_shows_no_password_from_settings_meta_or_locals(settings):
    settings.DATABASE_URL = DB_URL
    settings.CELERY_BROKER_URL = BROKER_URL
    # runserver copies the environment into every request's META.
    request = RequestFactory().get("/", DATABASE_URL=DB_URL, CELERY_BROKER_URL=BROKER_URL)
    try:
        connect(REDIS_URL)
    except ConnectionError:
        exc_type, exc_value, traceback = sys.exc_info()
        page = ExceptionReporter(request, exc_type, exc_value, traceback).get_traceback_html()
    # The page does show the settings, META and the frames' variables, only not the passwords.
    assert "db.internal:5432" in page
    assert "rabbit.internal:5672" in page
    assert "redis://********************@cache:6379/0" in page
    assert not any(secret in page for secret in SECRETS)


@pytest.mark.fault(41)
def test_the_filter_is_the_projects(settings):
    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == "imagen_site.security.CredentialsFilter"


# -- 42 (audit 5): any date on the usage page -------------------------------------------------


@pytest.fixture
def charlie_client(charlie) -> Client:
    client = Client()
    client.force_login(charlie)
    return client


@pytest.mark.fault(42)
@pytest.mark.parametrize(
    "query",
    [
        "start=9999-12-30&end=9999-12-31",
        "start=9999-12-31",
        "end=9999-12-31",
        "start=0001-01-01&end=0001-01-02",
        "start=0001-01-01",
        "end=0001-01-01",
        "start=0001-01-01&end=9999-12-31",
        "start=",
        "end=",
        "start=&end=",
        "start=garbage&end=2026-01-01",
        "start=%E0%B9%92%E0%B9%90%E0%B9%92%E0%B9%96-%E0%B9%90%E0%B9%93-%E0%B9%90%E0%B9%91",
        "start=2026-03-12&end=2026-03-01",
        "start=1900-01-01&end=2026-01-01",
        "start=2026-02-30",
        "start=2026-03-01%00",
        "start=99999-01-01",
        "start=-2026-01-01",
        "start=2026-W10-1&end=20260331",
        "start=2026-03-01&start=2026-04-01",
    ],
)
def test_it_answers_every_date_without_an_error(charlie_client, query):
    response = charlie_client.get(f"/usage/?{query}")
    assert response.status_code in (200, 400), query
    period = response.context["period"]
    assert period.start <= period.end
    assert (period.end - period.start).days < 366


@pytest.mark.fault(42)
def test_it_explains_a_date_out_of_range(charlie_client):
    body = charlie_client.get("/usage/?start=9999-12-30&end=9999-12-31").content.decode()
    assert "Dates from 2000-01-01 to 2999-12-31" in body


def test_it_still_shows_a_far_but_valid_period(charlie_client):
    response = charlie_client.get("/usage/?start=2999-12-01&end=2999-12-31")
    assert response.status_code == 200
    assert response.context["period"].start == date(2999, 12, 1)
    assert response.context["period"].error == ""


# -- 43 (audit 8): the proxy's TLS header --------------------------------------------------------


# The documented production settings (docs/production.md), as far as a check needs them.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
    "ALLOWED_HOSTS": "studio.example.com",
}


@pytest.mark.fault(43)
def test_it_trusts_x_forwarded_proto_only_behind_a_proxy(tmp_path):
    names = ["SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXY_COUNT"]
    assert settings_of(tmp_path, names) == {
        "SECURE_PROXY_SSL_HEADER": None,
        "TRUSTED_PROXY_COUNT": 0,
    }
    behind = settings_of(tmp_path, names, TRUSTED_PROXY_COUNT="1", **PRODUCTION)
    assert behind == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "TRUSTED_PROXY_COUNT": 1,
    }


@pytest.mark.fault(43)
def test_a_forged_header_does_not_make_a_plain_request_secure(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response.url.startswith("https://")


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=process_env(tmp_path, **PRODUCTION, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.fault(43)
@pytest.mark.parametrize("proxies", ["0", "1", "2"])
def test_check_deploy_stays_clean_with_or_without_a_proxy(tmp_path, proxies):
    done = check_deploy(tmp_path, TRUSTED_PROXY_COUNT=proxies)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


@pytest.mark.fault(43)
@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_it_refuses_a_bad_proxy_count(tmp_path, value):
    done = check_deploy(tmp_path, TRUSTED_PROXY_COUNT=value)
    assert done.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be" in done.stderr


# -- 44 (audit 9): the webhook-event table -----------------------------------------------------


def received(event_id: str, age: timedelta) -> None:
    WebhookEvent.objects.create(event_id=event_id)
    WebhookEvent.objects.filter(event_id=event_id).update(received_at=timezone.now() - age)


@pytest.mark.fault(44)
def test_beat_forgets_webhook_ids_older_than_a_replay_could_be(db):
    received("evt_old", timedelta(days=2))
    received("evt_just_past", webhooks.EVENT_RETENTION + timedelta(minutes=1))
    received("evt_recent", timedelta(minutes=10))
    received("evt_now", timedelta(0))
    assert tasks.forget_old_webhook_events.apply().get() == 2
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == [
        "evt_now",
        "evt_recent",
    ]


@pytest.mark.fault(44)
def test_a_forgotten_id_cannot_be_replayed(settings, client):
    secret = "whsec_" + base64.b64encode(b"the studio's webhook secret, 32b").decode()
    settings.RIVYA_WEBHOOK_SECRET = secret
    sent = timezone.now() - webhooks.EVENT_RETENTION - timedelta(minutes=1)
    body = json.dumps({"type": "generation.succeeded", "data": {"id": "task_1"}})
    headers = {
        "webhook-id": "evt_forgotten",
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign("evt_forgotten", sent.astimezone(UTC), body),
    }
    # The signed timestamp is far outside the verifier's tolerance: refused without the table.
    response = client.post(
        "/webhooks/rivya/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert webhooks.EVENT_RETENTION >= 10 * webhooks.REPLAY_TOLERANCE


@pytest.mark.fault(44)
def test_beat_runs_the_clean_up(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["forget-old-webhook-events"]
    assert entry["task"] == "generations.tasks.forget_old_webhook_events"
    assert entry["task"] in celery_app.tasks
    assert timedelta(seconds=entry["schedule"]) <= webhooks.EVENT_RETENTION


def test_it_forgets_with_one_delete(db):
    received("evt_old", timedelta(days=3))
    with CaptureQueriesContext(connection) as queries:
        webhooks.forget_old_events()
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["DELETE"]
