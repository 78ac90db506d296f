"""Signing in and out: Django's form, django-axes lockout, and sign-out by POST only."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

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
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", page.decode())


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
