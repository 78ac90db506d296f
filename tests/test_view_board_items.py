"""Adding to and removing from a board (POST /boards/<id>/add/ and .../remove/ with
``generation=<pk>``): any member, on any board, with any image the team can see. htmx gets the
board menu redrawn (or nothing, for a tile on the board's page); a plain form goes back with a
message. Bad parameters answer 400 or 404 and change nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Board, BoardItem, Status
from tests.rows import generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(alice):
    return Board.objects.create(name="Lighthouses", maker=alice)


def on_board(board) -> list[int]:
    return list(BoardItem.objects.filter(board=board).values_list("generation_id", flat=True))


def test_any_member_adds_another_members_image_to_another_members_board(
    alice, bob, bob_client, board
):
    row = generation(alice)
    response = bob_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk}, follow=True)
    assert response.redirect_chain == [(f"/boards/{board.pk}/", 302)]
    assert "Added to “Lighthouses”." in response.content.decode()
    item = BoardItem.objects.get()
    assert (item.board, item.generation, item.added_by) == (board, row, bob)


def test_adding_twice_is_harmless_and_says_so(alice, alice_client, board):
    row = generation(alice)
    alice_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk})
    response = alice_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk}, follow=True)
    assert "This image is already on “Lighthouses”." in response.content.decode()
    assert on_board(board) == [row.pk]


def test_the_same_image_goes_on_several_boards(alice, alice_client, board):
    other = Board.objects.create(name="Favourites", maker=alice)
    row = generation(alice)
    alice_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk})
    alice_client.post(f"/boards/{other.pk}/add/", {"generation": row.pk})
    assert on_board(board) == on_board(other) == [row.pk]


def test_a_plain_form_goes_back_to_its_next(alice, alice_client, board):
    row = generation(alice)
    response = alice_client.post(
        f"/boards/{board.pk}/add/", {"generation": row.pk, "next": f"/generations/{row.pk}/"}
    )
    assert response.status_code == 302
    assert response.url == f"/generations/{row.pk}/"


@pytest.mark.parametrize("unsafe", ["https://elsewhere.example/", "//elsewhere.example/", ""])
def test_it_never_goes_back_to_another_site(alice, alice_client, board, unsafe):
    row = generation(alice)
    response = alice_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk, "next": unsafe})
    assert response.url == f"/boards/{board.pk}/"


def test_htmx_gets_the_menu_redrawn_with_what_happened(alice, bob, alice_client, board):
    Board.objects.create(name="Another", maker=bob)
    row = generation(bob)
    response = alice_client.post(
        f"/boards/{board.pk}/add/",
        {"generation": row.pk, "next": "/"},
        headers={"HX-Request": "true", "HX-Target": f"board-menu-{row.pk}"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<div class="board-menu" id="board-menu-{row.pk}">')
    assert "Added to “Lighthouses”." in body
    assert "Remove from Lighthouses" in body
    assert "Add to Another" in body
    assert 'name="next" value="/"' in body


@pytest.mark.parametrize("value", [None, "", "abc", "1.5", "-3", "²", "9" * 19, "1e3"])
def test_adding_refuses_a_generation_that_is_not_a_number(alice_client, board, value):
    data = {} if value is None else {"generation": value}
    response = alice_client.post(f"/boards/{board.pk}/add/", data)
    assert response.status_code == 400
    assert "the generation field must be an image's number" in response.content.decode()
    assert BoardItem.objects.count() == 0


def test_adding_answers_404_for_an_unknown_or_deleted_image(alice, alice_client, board):
    deleted = generation(alice, deleted_at=timezone.now())
    for pk in (deleted.pk, 999999, 10**17):
        response = alice_client.post(f"/boards/{board.pk}/add/", {"generation": pk})
        assert response.status_code == 404
    assert BoardItem.objects.count() == 0


@pytest.mark.parametrize("status", [Status.FAILED, Status.PROCESSING, Status.QUEUED])
def test_adding_refuses_an_image_that_is_not_finished(alice, alice_client, board, status):
    row = generation(alice, status)
    response = alice_client.post(f"/boards/{board.pk}/add/", {"generation": row.pk})
    assert response.status_code == 400
    assert response.content.decode() == "Only a finished image can be kept on a board."
    assert BoardItem.objects.count() == 0


def test_adding_to_an_unknown_board_answers_404(alice, alice_client):
    row = generation(alice)
    assert alice_client.post("/boards/999999/add/", {"generation": row.pk}).status_code == 404
    assert BoardItem.objects.count() == 0


@pytest.mark.parametrize("action", ["add", "remove"])
def test_it_refuses_get(alice, alice_client, board, action):
    row = generation(alice)
    response = alice_client.get(f"/boards/{board.pk}/{action}/", {"generation": row.pk})
    assert response.status_code == 405
    assert BoardItem.objects.count() == 0


@pytest.mark.parametrize("action", ["add", "remove"])
def test_it_requires_sign_in(client, alice, board, action):
    row = generation(alice)
    response = client.post(f"/boards/{board.pk}/{action}/", {"generation": row.pk})
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert BoardItem.objects.count() == 0


# -- Removing --------------------------------------------------------------------------------------


def test_any_member_removes_an_image_someone_else_added(alice, bob_client, board):
    row = generation(alice)
    BoardItem.objects.create(board=board, generation=row, added_by=alice)
    response = bob_client.post(f"/boards/{board.pk}/remove/", {"generation": row.pk}, follow=True)
    assert "Removed from “Lighthouses”." in response.content.decode()
    assert on_board(board) == []
    assert row.__class__.objects.get(pk=row.pk).deleted_at is None


def test_removing_what_is_not_there_is_harmless_and_says_so(alice, alice_client, board):
    row = generation(alice)
    response = alice_client.post(f"/boards/{board.pk}/remove/", {"generation": row.pk}, follow=True)
    assert "This image was not on “Lighthouses”." in response.content.decode()


def test_removing_from_the_boards_page_answers_htmx_with_nothing(alice, alice_client, board):
    row = generation(alice)
    BoardItem.objects.create(board=board, generation=row)
    response = alice_client.post(
        f"/boards/{board.pk}/remove/",
        {"generation": row.pk},
        headers={"HX-Request": "true", "HX-Target": f"board-item-{row.pk}"},
    )
    assert response.status_code == 200
    assert response.content == b""
    assert on_board(board) == []


def test_removing_from_the_menu_redraws_it(alice, alice_client, board):
    row = generation(alice)
    BoardItem.objects.create(board=board, generation=row)
    response = alice_client.post(
        f"/boards/{board.pk}/remove/",
        {"generation": row.pk},
        headers={"HX-Request": "true", "HX-Target": f"board-menu-{row.pk}"},
    )
    body = response.content.decode()
    assert "Removed from “Lighthouses”." in body
    assert "Add to Lighthouses" in body


@pytest.mark.parametrize("value", [None, "abc", "-1"])
def test_removing_refuses_a_generation_that_is_not_a_number(alice, alice_client, board, value):
    row = generation(alice)
    BoardItem.objects.create(board=board, generation=row)
    data = {} if value is None else {"generation": value}
    assert alice_client.post(f"/boards/{board.pk}/remove/", data).status_code == 400
    assert on_board(board) == [row.pk]


def test_removing_answers_404_for_an_unknown_image_or_board(alice, alice_client, board):
    row = generation(alice)
    BoardItem.objects.create(board=board, generation=row)
    unknown_image = alice_client.post(f"/boards/{board.pk}/remove/", {"generation": 999999})
    assert unknown_image.status_code == 404
    assert alice_client.post("/boards/999999/remove/", {"generation": row.pk}).status_code == 404
    assert on_board(board) == [row.pk]
