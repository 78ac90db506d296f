"""Signing in and out: Django's form, django-axes lockout, and sign-out by POST only."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from tests.support import page_text

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def sign_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_it_shows_the_sign_in_form(client):
    body = client.get("/accounts/login/").content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body


def test_it_signs_a_member_in_and_goes_to_the_studio(alice, client):
    response = sign_in(client, "alice", "alice-password-42")
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").context["user"] == alice


def test_it_follows_next_after_sign_in(alice, client):
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "alice-password-42", "next": "/usage/"},
    )
    assert response.url == "/usage/"


def test_it_refuses_a_wrong_password_with_the_same_message_as_an_unknown_user(alice, client):
    wrong_password = sign_in(client, "alice", WRONG)
    unknown_user = sign_in(client, "nobody", WRONG)
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert wrong_password.context["form"].non_field_errors() == (
        unknown_user.context["form"].non_field_errors()
    )
    assert "Please enter a correct username and password" in wrong_password.content.decode()
    assert "_auth_user_id" not in client.session


def lock_out(client: Client, username: str):
    responses = [sign_in(client, username, WRONG) for _ in range(settings.AXES_FAILURE_LIMIT)]
    return responses[-1]


def test_it_locks_out_after_repeated_wrong_passwords(alice, client):
    locked = lock_out(client, "alice")
    assert locked.status_code == 429
    assert "Sign-in is paused after several wrong usernames or passwords" in locked.content.decode()


def test_it_keeps_a_locked_out_member_out_even_with_the_right_password(alice, client):
    lock_out(client, "alice")
    response = sign_in(client, "alice", "alice-password-42")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_out_an_unknown_user_with_the_same_page(alice, client):
    known = lock_out(client, "alice")
    unknown = lock_out(Client(), "nobody")
    assert unknown.status_code == known.status_code
    assert without_token(unknown.content) == without_token(known.content)


def without_token(page: bytes) -> str:
    """The page with its per-session CSRF token blanked, the only part that may differ."""
    blanked = re.sub(r'"X-CSRFToken": "[^"]*"', "", page.decode())
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", blanked)


def test_it_does_not_lock_out_before_the_limit(alice, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "alice", WRONG)
    assert sign_in(client, "alice", "alice-password-42").status_code == 302


def test_it_signs_out_with_a_post(alice_client):
    response = alice_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert alice_client.get("/").status_code == 302


def test_it_does_not_sign_out_on_a_get(alice, alice_client):
    assert alice_client.get("/accounts/logout/").status_code == 405
    assert alice_client.get("/").context["user"] == alice


# -- In Thai (issue 13) ----------------------------------------------------------------------------

THAI_BROWSER = {"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"}
SWITCH_BUTTON = re.compile(
    r'<button type="submit" name="language" value="(\w+)" lang="\1"([^>]*)>([^<]*)<'
)


def switch_buttons(body: str) -> dict[str, tuple[str, bool]]:
    """The language switch's buttons: language -> (its name as shown, whether it is current)."""
    return {
        code: (name, "aria-current" in rest) for code, rest, name in SWITCH_BUTTON.findall(body)
    }


def test_it_speaks_thai_to_a_browser_that_asks_for_it(client):
    body = page_text(client.get("/accounts/login/", headers=THAI_BROWSER))
    assert '<html lang="th">' in body
    assert "<title> เข้าสู่ระบบ · Imagen Studio </title>" in body
    assert "<h1>เข้าสู่ระบบ</h1>" in body
    assert "สตูดิโอ Imagen 4 ของทีมคุณ" in body
    assert ">ชื่อผู้ใช้</label>" in body
    assert ">รหัสผ่าน</label>" in body
    assert switch_buttons(body) == {"en": ("English", False), "th": ("ไทย", True)}
    assert "Sign in" not in body


def test_it_speaks_english_by_default_and_names_each_language_in_itself(client):
    body = page_text(client.get("/accounts/login/"))
    assert '<html lang="en">' in body
    assert "<h1>Sign in</h1>" in body
    assert switch_buttons(body) == {"en": ("English", True), "th": ("ไทย", False)}


def test_the_language_cookie_wins_over_the_browsers_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = page_text(client.get("/accounts/login/", headers=THAI_BROWSER))
    assert '<html lang="en">' in body


def test_it_refuses_a_wrong_password_in_thai(alice, client):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": WRONG}, headers=THAI_BROWSER
    )
    assert "กรุณาใส่" in response.content.decode()  # Django's own Thai


def test_it_says_the_lockout_in_thai_with_its_minutes(alice, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked = client.post(
            "/accounts/login/", {"username": "alice", "password": WRONG}, headers=THAI_BROWSER
        )
    body = page_text(locked)
    assert locked.status_code == 429
    assert "<h1>ลองเข้าสู่ระบบหลายครั้งเกินไป</h1>" in body
    assert "รออีก 15 นาที แล้วลองใหม่" in body
