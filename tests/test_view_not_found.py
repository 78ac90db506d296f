"""The page for an address with nothing at it: the studio's own, in the member's language, with
the way back (Django's bare page is English only and leads nowhere)."""

from __future__ import annotations

import pytest

from tests.support import page_text

pytestmark = pytest.mark.django_db


def test_it_answers_404_with_the_studios_page(alice_client):
    response = alice_client.get("/generations/999999/")
    assert response.status_code == 404
    body = page_text(response)
    assert "<h1>Page not found</h1>" in body
    assert '<a href="/">Back to the studio</a>' in body


def test_it_speaks_the_members_language(alice_thai_client):
    response = alice_thai_client.get("/boards/999999/")
    assert response.status_code == 404
    assert '<html lang="th">' in response.content.decode()
    assert "<h1>ไม่พบหน้านี้</h1>" in page_text(response)


def test_it_is_shown_to_a_visitor_signed_out(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in page_text(response)
    assert "Sign out" not in page_text(response)
