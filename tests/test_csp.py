"""The Content-Security-Policy: strict (no inline script or style), and the pages keep to it."""

from __future__ import annotations

import re

import pytest

from tests.rows import generation

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def test_it_sends_a_strict_policy_on_the_studio_page(sim, alice_client):
    response = alice_client.get("/")
    policy = directives(response.headers["Content-Security-Policy"])
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert "'unsafe-inline'" not in policy.get("style-src", policy["default-src"])
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_it_puts_no_inline_script_or_style_in_the_pages(sim, alice, alice_client, client):
    row = generation(alice, prompt="Policy check")
    pages = {
        "/": alice_client,
        f"/generations/{row.pk}/": alice_client,
        f"/generations/cards/?id={row.pk}": alice_client,
        "/accounts/login/": client,
    }
    for url, who in pages.items():
        page = who.get(url).content.decode()
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
            assert "src=" in attributes, url
            assert body.strip() == "", url
        assert not re.search(r"\sstyle=", page), url
        assert not re.search(r"<style[\s>]", page), url
        assert not re.search(r"\son[a-z]+=", page), url  # onclick= and friends


def test_it_keeps_the_policy_on_htmx_partials(sim, alice, alice_client):
    row = generation(alice)
    response = alice_client.get(f"/generations/cards/?id={row.pk}", headers={"HX-Request": "true"})
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_it_sends_the_other_protective_headers(sim, alice_client):
    response = alice_client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
