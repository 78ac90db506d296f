"""Fault tests, items 21-25 of docs/reliability.md: members reaching what is not theirs, CSRF,
lockout, bad form input, and the production settings."""

from __future__ import annotations

import inspect
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver

from generations import views
from generations.models import Generation, LedgerEntry
from tests.rows import generation

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def html(response) -> str:
    return str(response.content.decode())


# -- 21: another member's things ----------------------------------------------------------


@pytest.mark.fault(21)
def test_it_answers_404_to_a_member_deleting_anothers_generation(alice, bob_client):
    row = generation(alice, prompt="Alice's lighthouse")
    for headers in ({}, {"HX-Request": "true"}):
        response = bob_client.post(f"/generations/{row.pk}/delete/", headers=headers)
        assert response.status_code == 404
    row.refresh_from_db()
    assert row.deleted_at is None
    assert Generation.objects.filter(deleted_at__isnull=True).count() == 1


@pytest.mark.fault(21)
def test_it_shows_a_shared_generation_read_only_to_others(alice, bob_client, alice_client):
    row = generation(alice, prompt="Alice's lighthouse")
    delete_form = f'action="/generations/{row.pk}/delete/"'
    seen_by_bob = bob_client.get(f"/generations/{row.pk}/")
    assert seen_by_bob.status_code == 200
    assert "Alice&#x27;s lighthouse" in html(seen_by_bob)
    assert delete_form not in html(seen_by_bob)
    assert delete_form in html(alice_client.get(f"/generations/{row.pk}/"))  # the owner's


def pk_patterns() -> list[URLPattern]:
    """Every URL of the app that names one object by its pk."""
    return [
        p
        for p in get_resolver().url_patterns
        for p in getattr(p, "url_patterns", [p])
        if isinstance(p, URLPattern) and "pk" in p.pattern.converters
    ]


# Every action (a POST naming one object) and who may take it. A new action must be added here,
# so that nobody can add one without saying whose it is.
OWN_GENERATION = "own generation"  # through own_generation_or_404: anyone else gets 404
SHARED_BOARD = "shared"  # the team's boards, a member's own star: any member may
ACTIONS = {
    "delete": OWN_GENERATION,
    "restore": OWN_GENERATION,
    "cancel": OWN_GENERATION,
    "stop-waiting": OWN_GENERATION,
    "retry": OWN_GENERATION,  # a colleague's image is made again through "Reuse settings"
    "favorite": SHARED_BOARD,  # the member's own star on any image the team sees
    "board-add": SHARED_BOARD,
    "board-remove": SHARED_BOARD,
    "board-rename": SHARED_BOARD,  # its maker or an admin: 403 for the rest (test_view_board)
    "board-delete": SHARED_BOARD,
}


@pytest.mark.fault(21)
def test_it_fetches_every_object_a_member_may_change_through_the_scoping_helper(
    alice, alice_client, bob_client
):
    row = generation(alice)
    changing = []
    for pattern in pk_patterns():
        url = "/" + str(pattern.pattern).replace("<int:pk>", str(row.pk))
        if alice_client.get(url).status_code != 405:
            continue  # a page to look at, not an action
        changing.append(pattern.name)
        assert pattern.name in ACTIONS, f"{pattern.name}: say whose object it changes"
        if ACTIONS[pattern.name] != OWN_GENERATION:
            continue
        source = inspect.getsource(inspect.unwrap(pattern.callback))
        assert "own_generation_or_404(" in source, f"{pattern.name} does not scope its object"
        assert bob_client.post(url).status_code == 404, pattern.name
    assert "delete" in changing  # the check above saw at least the one change there is
    row.refresh_from_db()
    assert row.deleted_at is None


@pytest.mark.fault(21)
def test_the_scoping_helper_answers_404_for_someone_elses_or_a_deleted_one(alice, bob, rf):
    from django.http import Http404
    from django.utils import timezone

    mine = generation(alice)
    gone = generation(alice, deleted_at=timezone.now())
    request = rf.post("/")
    request.user = bob
    with pytest.raises(Http404):
        views.own_generation_or_404(request, mine.pk)
    request.user = alice
    assert views.own_generation_or_404(request, mine.pk) == mine
    with pytest.raises(Http404):
        views.own_generation_or_404(request, gone.pk)


# -- 22: CSRF -----------------------------------------------------------------------------


@pytest.fixture
def strict_client(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def body_token(page: str) -> str:
    """The token the page gives htmx, from ``hx-headers`` on ``<body>``."""
    match = re.search(r"<body[^>]*hx-headers='\{\"X-CSRFToken\": \"([A-Za-z0-9]+)\"\}'", page)
    assert match, "the page gives htmx no CSRF token"
    return match.group(1)


@pytest.mark.fault(22)
def test_it_refuses_a_post_without_a_csrf_token(sim, alice, strict_client, form_data):
    row = generation(alice)
    strict_client.get("/")  # a real session: the CSRF cookie is set, only the token is missing
    assert strict_client.post("/generations/", form_data()).status_code == 403
    assert strict_client.post(f"/generations/{row.pk}/delete/").status_code == 403
    hx = {"HX-Request": "true"}
    assert strict_client.post("/generations/", form_data(), headers=hx).status_code == 403
    assert strict_client.post("/accounts/logout/").status_code == 403
    assert Generation.objects.count() == 1
    assert Generation.objects.get().deleted_at is None
    assert sim.state.create_requests == 0


@pytest.mark.fault(22)
def test_it_accepts_htmx_requests_carrying_the_token_from_the_page(
    sim, alice, strict_client, form_data
):
    old = generation(alice)
    token = body_token(html(strict_client.get("/")))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    created = strict_client.post("/generations/", form_data(prompt="Via htmx"), headers=headers)
    assert created.status_code == 200
    assert Generation.objects.filter(prompt="Via htmx").count() == 1
    deleted = strict_client.post(f"/generations/{old.pk}/delete/", headers=headers)
    assert deleted.status_code == 200
    assert Generation.objects.get(pk=old.pk).deleted_at is not None


@pytest.mark.fault(22)
def test_it_accepts_a_plain_form_post_with_the_forms_token(sim, strict_client, form_data):
    page = html(strict_client.get("/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', page)
    assert token
    data = {**form_data(prompt="Via the form"), "csrfmiddlewaretoken": token.group(1)}
    assert strict_client.post("/generations/", data).status_code == 302
    assert Generation.objects.filter(prompt="Via the form").count() == 1


# -- 23: lockout --------------------------------------------------------------------------

TOKENS = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+')


def attempt(username: str, password: str):
    """A sign-in from a fresh browser (fresh CSRF token) at the same address."""
    client = Client()
    return client.post("/accounts/login/", {"username": username, "password": password})


def comparable(response, username: str) -> tuple[int, str]:
    """The response with what legitimately differs (tokens, the name typed) blanked out."""
    body = TOKENS.sub(r"\1TOKEN", html(response)).replace(username, "USERNAME")
    return response.status_code, body


@pytest.mark.fault(23)
def test_it_locks_out_without_revealing_whether_the_user_exists(alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for_alice = [comparable(attempt("alice", "wrong-password"), "alice") for _ in range(4)]
    for_nobody = [comparable(attempt("mallory", "wrong-password"), "mallory") for _ in range(4)]
    assert for_alice == for_nobody  # byte for byte, attempt by attempt
    assert [status for status, _ in for_alice] == [200, 200, 429, 429]
    assert "Too many attempts" in for_alice[-1][1]
    # Locked out means locked out: the right password does not get in either.
    locked = attempt("alice", "alice-password-42")
    assert locked.status_code == 429
    assert "_auth_user_id" not in locked.client.session


@pytest.mark.fault(23)
def test_it_lets_a_locked_out_member_in_after_the_cool_off(alice, settings):
    from axes.models import AccessAttempt
    from django.db.models import F

    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    for _ in range(2):
        attempt("alice", "wrong-password")
    assert attempt("alice", "alice-password-42").status_code == 429
    # Sixteen minutes pass: the failures are older than the cool-off.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    assert attempt("alice", "alice-password-42").status_code == 302


# -- 24: bad form input -------------------------------------------------------------------


def field_error(page: str, field: str) -> str:
    """The error message shown inside the field's own block (label, input, message)."""
    if field == "aspect_ratio":
        block = re.search(r'<fieldset class="field ratios">(.*?)</fieldset>', page, re.S)
    else:
        block = re.search(
            rf'<div class="field[^"]*">\s*<label for="id_{field}".*?</div>\s*(?=<div|</div>)',
            page,
            re.S,
        )
    assert block, f"no block for {field}"
    message = re.search(r'<p class="field-error"[^>]*>(.*?)</p>', block.group(0), re.S)
    return message.group(1) if message else ""


@pytest.mark.fault(24)
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_it_refuses_bad_input_next_to_the_field_and_sends_nothing(
    sim, alice_client, form_data, htmx
):
    script = "<script>alert('x')</script><b>bold</b>"
    cases = [
        ("prompt", {"prompt": "x" * 5001}, "at most 5000 characters"),
        ("seed", {"seed": "-1", "prompt": script}, "whole number from 0"),
        ("seed", {"seed": "1.5"}, "whole number from 0"),
        ("seed", {"seed": "seven"}, "whole number from 0"),
        ("seed", {"seed": "²"}, "whole number from 0"),  # a digit to isdigit(), not to int()
        ("aspect_ratio", {"aspect_ratio": "2:1", "prompt": script}, "2:1"),
    ]
    headers = {"HX-Request": "true"} if htmx else {}
    for field, overrides, message in cases:
        response = alice_client.post("/generations/", form_data(**overrides), headers=headers)
        assert response.status_code == (200 if htmx else 400), overrides
        page = html(response)
        assert message in field_error(page, field), (field, overrides)
        if overrides.get("prompt") == script:
            assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;bold" in page
            assert "<script>alert" not in page
            assert "<b>bold" not in page
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert sim.state.create_requests == 0


@pytest.mark.fault(24)
def test_it_shows_markup_in_an_accepted_prompt_escaped(sim, alice_client, form_data):
    prompt = "<img src=x onerror=alert(1)> a cat"
    alice_client.post("/generations/", form_data(prompt=prompt))
    row = Generation.objects.get()
    for url in ("/", f"/generations/{row.pk}/", f"/generations/cards/?id={row.pk}"):
        page = html(alice_client.get(url))
        assert "&lt;img src=x onerror=alert(1)&gt; a cat" in page, url
        assert "<img src=x" not in page, url


@pytest.mark.parametrize(
    "url",
    [
        "/?before=²",
        "/?before=-1",
        "/?before=99999999999999999999999",
        "/generations/cards/?id=²&id=1",
        "/generations/cards/?id=99999999999999999999999",
    ],
)
def test_it_ignores_odd_numbers_in_query_strings(alice_client, url):
    assert alice_client.get(url).status_code == 200


# -- 25: production settings --------------------------------------------------------------


def check_deploy(tmp_path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "studio.example.com",
        "IMAGEN_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.fault(25)
def test_it_passes_check_deploy_with_production_settings(tmp_path):
    done = check_deploy(tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert "WARNING" not in output
    assert "security.W" not in output


@pytest.mark.fault(25)
def test_the_deploy_check_would_see_a_weak_setting(tmp_path):
    # The same run with a short key must warn, or the test above proves nothing.
    done = check_deploy(tmp_path, SECRET_KEY="short")
    assert done.returncode != 0
    assert "security.W009" in done.stdout + done.stderr
