"""The boards list (GET /boards/) and making a board (POST /boards/ with ``name``)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Board, BoardItem
from tests.rows import generation
from tests.support import page_text

pytestmark = pytest.mark.django_db


def test_it_requires_sign_in(client):
    response = client.get("/boards/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_lists_every_board_by_name_with_its_count_and_maker(alice, bob, bob_client):
    logos = Board.objects.create(name="logos", maker=alice)
    Board.objects.create(name="Autumn", maker=bob)
    BoardItem.objects.create(board=logos, generation=generation(alice), added_by=alice)
    body = page_text(bob_client.get("/boards/"))
    assert body.index("Autumn") < body.index("logos")
    assert "1 image, made by alice" in body
    assert "0 images, made by bob" in body
    assert f'href="/boards/{logos.pk}/"' in body


def test_it_shows_the_newest_visible_image_as_the_cover(alice, alice_client):
    board = Board.objects.create(name="Covers", maker=alice)
    older, newer = generation(alice), generation(alice)
    BoardItem.objects.create(board=board, generation=older)
    BoardItem.objects.create(board=board, generation=newer)
    body = alice_client.get("/boards/").content.decode()
    assert newer.thumbnail.url in body
    newer.deleted_at = timezone.now()
    newer.save()
    body = alice_client.get("/boards/").content.decode()
    assert newer.thumbnail.url not in body
    assert older.thumbnail.url in body
    assert "1 image," in body


def test_it_says_so_when_there_are_none(alice_client):
    body = alice_client.get("/boards/").content.decode()
    assert "There are no boards yet. Make the first one above." in body
    assert 'id="new-board"' in body


def test_it_makes_a_board_and_goes_to_it(alice, alice_client):
    response = alice_client.post("/boards/", {"name": "  Spring campaign  "}, follow=True)
    board = Board.objects.get()
    assert response.redirect_chain == [(f"/boards/{board.pk}/", 302)]
    assert board.name == "Spring campaign"
    assert board.maker == alice
    assert "The board “Spring campaign” is made." in response.content.decode()


def test_it_keeps_unicode_names(alice_client):
    alice_client.post("/boards/", {"name": "ภาพแมว 🐈"})
    assert Board.objects.get().name == "ภาพแมว 🐈"


def test_it_takes_a_name_of_80_characters(alice_client):
    assert alice_client.post("/boards/", {"name": "x" * 80}).status_code == 302
    assert Board.objects.get().name == "x" * 80


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the board a name."),
        ("   ", "Give the board a name."),
        ("x" * 81, "A board name can be at most 80 characters; this one has 81."),
        ("two\nlines", "A board name must be one line, without tabs or control characters."),
        ("a\tb", "A board name must be one line, without tabs or control characters."),
    ],
)
def test_it_refuses_a_bad_name_beside_the_field_and_makes_nothing(alice_client, name, message):
    response = alice_client.post("/boards/", {"name": name})
    assert response.status_code == 400
    body = response.content.decode()
    assert f'<p class="field-error" id="board-name-error">{message}</p>' in body
    assert 'aria-invalid="true"' in body
    assert Board.objects.count() == 0


def test_it_refuses_a_missing_name(alice_client):
    assert alice_client.post("/boards/", {}).status_code == 400
    assert Board.objects.count() == 0


def test_it_refuses_a_name_taken_ignoring_case(alice, bob_client):
    Board.objects.create(name="Logos", maker=alice)
    response = bob_client.post("/boards/", {"name": "LOGOS"})
    assert response.status_code == 400
    assert "There is already a board called “LOGOS”. Choose another name." in (
        response.content.decode()
    )
    assert list(Board.objects.values_list("name", flat=True)) == ["Logos"]


def test_the_database_refuses_a_duplicate_ignoring_case_too(alice):
    from django.db import IntegrityError, transaction

    Board.objects.create(name="Logos", maker=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Board.objects.create(name="logos", maker=alice)


def test_it_refuses_other_methods(alice_client):
    assert alice_client.put("/boards/").status_code == 405


# -- In Thai ---------------------------------------------------------------------------------------


def test_a_thai_member_sees_the_boards_in_thai(alice, alice_thai_client):
    logos = Board.objects.create(name="logos", maker=alice)
    BoardItem.objects.create(board=logos, generation=generation(alice), added_by=alice)
    Board.objects.create(name="Autumn")
    body = page_text(alice_thai_client.get("/boards/"))
    assert "<h1>บอร์ด</h1>" in body
    assert "บอร์ดช่วยรวมภาพเด่นของทีมไว้ด้วยกัน" in body
    assert ">บอร์ดใหม่</label>" in body
    assert 'placeholder="แคมเปญสงกรานต์"' in body
    assert ">สร้างบอร์ด</button>" in body
    assert "1 ภาพ · สร้างโดย alice" in body
    assert "0 ภาพ </p>" in body  # the board nobody made any more
    assert "ยังไม่มีภาพ" in body
    for english in ("Boards keep", "New board", "Make board", "image, made by", "No images yet"):
        assert english not in body


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("   ", "ตั้งชื่อบอร์ดก่อนนะ"),
        ("x" * 81, "ชื่อบอร์ดยาวได้ไม่เกิน 80 ตัวอักษร แต่ชื่อนี้มี 81 ตัวอักษร"),
        ("two\nlines", "ชื่อบอร์ดต้องอยู่ในบรรทัดเดียว"),
        ("LOGOS", "มีบอร์ดชื่อ “LOGOS” อยู่แล้ว ลองตั้งชื่ออื่น"),
    ],
)
def test_a_thai_member_reads_why_a_name_is_refused_in_thai(alice, alice_thai_client, name, words):
    Board.objects.create(name="logos", maker=alice)
    response = alice_thai_client.post("/boards/", {"name": name})
    assert response.status_code == 400
    assert words in page_text(response)
    assert Board.objects.count() == 1
