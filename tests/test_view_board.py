"""A board's page (GET /boards/<id>/), renaming it and deleting it (POST .../rename/, .../delete/).
Every member sees every board; only its maker or an admin (charlie) renames or deletes it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations import boards
from generations.models import Board, BoardItem, Generation, Status
from tests.rows import generation
from tests.support import lightbox_links, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(alice):
    return Board.objects.create(name="Lighthouses", maker=alice)


def put_on(board, row: Generation) -> BoardItem:
    return BoardItem.objects.create(board=board, generation=row, added_by=board.maker)


def test_it_requires_sign_in(client, board):
    response = client.get(f"/boards/{board.pk}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_shows_the_images_the_last_added_first_to_any_member(alice, bob, bob_client, board):
    first = put_on(board, generation(alice, prompt="First kept"))
    second = put_on(board, generation(bob, prompt="Second kept"))
    body = page_text(bob_client.get(f"/boards/{board.pk}/"))
    assert body.index("Second kept") < body.index("First kept")
    assert f'id="board-item-{first.generation_id}"' in body
    assert f'id="board-item-{second.generation_id}"' in body
    assert "2 images, made by alice" in body


def test_it_leaves_out_a_deleted_generation(alice, alice_client, board):
    put_on(board, generation(alice, prompt="Still here"))
    put_on(board, generation(alice, prompt="Deleted later", deleted_at=timezone.now()))
    body = page_text(alice_client.get(f"/boards/{board.pk}/"))
    assert "Still here" in body
    assert "Deleted later" not in body
    assert "1 image, made by alice" in body


def test_it_pages_by_keyset_with_before(alice, alice_client, board, monkeypatch):
    monkeypatch.setattr(boards, "PAGE_SIZE", 2)
    items = [put_on(board, generation(alice, prompt=f"Kept number {n}")) for n in range(3)]
    body = alice_client.get(f"/boards/{board.pk}/").content.decode()
    assert "Kept number 2" in body
    assert "Kept number 1" in body
    assert "Kept number 0" not in body
    assert f"?before={items[1].pk}" in body
    older = alice_client.get(f"/boards/{board.pk}/?before={items[1].pk}").content.decode()
    assert "Kept number 0" in older
    assert "Kept number 1" not in older
    assert "Newest" in older


def test_it_answers_htmx_with_the_items_alone(alice, alice_client, board):
    put_on(board, generation(alice, prompt="In the list"))
    response = alice_client.get(
        f"/boards/{board.pk}/", headers={"HX-Request": "true", "HX-Target": "board-items"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="board-items"')
    assert "In the list" in body
    assert "<html" not in body


@pytest.mark.parametrize("before", ["abc", "-1", "²", "9" * 40, ""])
def test_it_ignores_a_before_that_is_not_a_row_id(alice, alice_client, board, before):
    put_on(board, generation(alice, prompt="Always shown"))
    response = alice_client.get(f"/boards/{board.pk}/", {"before": before})
    assert response.status_code == 200
    assert "Always shown" in response.content.decode()


def test_it_says_the_board_is_empty(alice_client, board):
    body = alice_client.get(f"/boards/{board.pk}/").content.decode()
    assert "No images on this board yet." in body
    assert "/download.zip" not in body


def test_it_offers_recent_images_not_on_the_board(alice, bob, alice_client, board):
    kept = put_on(board, generation(alice, prompt="Already kept")).generation
    offered = generation(bob, prompt="Bob's new one")
    generation(alice, Status.FAILED, prompt="A failure")
    body = alice_client.get(f"/boards/{board.pk}/").content.decode()
    recent = body[body.index("Add recent images") :]
    assert f'name="generation" value="{offered.pk}"' in recent
    assert f'name="generation" value="{kept.pk}"' not in recent
    assert "A failure" not in recent


@pytest.mark.parametrize("pk", [999999, 10**20])
def test_it_answers_404_for_an_unknown_board(alice_client, pk):
    assert alice_client.get(f"/boards/{pk}/").status_code == 404


@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_it_offers_rename_and_delete_to_the_maker_and_an_admin(request, board, who):
    body = request.getfixturevalue(f"{who}_client").get(f"/boards/{board.pk}/").content.decode()
    assert f'action="/boards/{board.pk}/rename/"' in body
    assert f'action="/boards/{board.pk}/delete/"' in body


def test_it_offers_neither_to_another_member(bob_client, board):
    body = bob_client.get(f"/boards/{board.pk}/").content.decode()
    assert "/rename/" not in body
    assert "/delete/" not in body


# -- Renaming --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_the_maker_or_an_admin_renames_it(request, board, who):
    client = request.getfixturevalue(f"{who}_client")
    response = client.post(f"/boards/{board.pk}/rename/", {"name": " Sea lights "}, follow=True)
    assert response.redirect_chain == [(f"/boards/{board.pk}/", 302)]
    assert "The board is now called “Sea lights”." in response.content.decode()
    board.refresh_from_db()
    assert board.name == "Sea lights"


def test_it_changes_only_the_case_of_its_own_name(alice_client, board):
    response = alice_client.post(f"/boards/{board.pk}/rename/", {"name": "LIGHTHOUSES"})
    assert response.status_code == 302
    board.refresh_from_db()
    assert board.name == "LIGHTHOUSES"


def test_another_member_cannot_rename_it(bob_client, board):
    response = bob_client.post(f"/boards/{board.pk}/rename/", {"name": "Mine now"})
    assert response.status_code == 403
    assert response.content.decode() == (
        "Only the board's maker or an admin can rename or delete it."
    )
    board.refresh_from_db()
    assert board.name == "Lighthouses"


def test_only_an_admin_renames_a_board_whose_maker_is_gone(alice, bob_client, charlie_client):
    board = Board.objects.create(name="Orphan", maker=alice)
    alice.delete()
    assert bob_client.post(f"/boards/{board.pk}/rename/", {"name": "Bob's"}).status_code == 403
    response = charlie_client.post(f"/boards/{board.pk}/rename/", {"name": "Adopted"})
    assert response.status_code == 302
    board.refresh_from_db()
    assert board.name == "Adopted"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the board a name."),
        ("y" * 81, "A board name can be at most 80 characters; this one has 81."),
        ("Taken", "There is already a board called “Taken”. Choose another name."),
        ("TAKEN", "There is already a board called “TAKEN”. Choose another name."),
        ("a\x00b", "A board name must be one line, without tabs or control characters."),
    ],
)
def test_it_refuses_a_bad_new_name_beside_the_field(alice, alice_client, board, name, message):
    Board.objects.create(name="Taken", maker=alice)
    response = alice_client.post(f"/boards/{board.pk}/rename/", {"name": name})
    assert response.status_code == 400
    body = response.content.decode()
    assert f'<p class="field-error" id="board-rename-error">{message}</p>' in body
    assert '<details class="board-rename" open>' in body
    board.refresh_from_db()
    assert board.name == "Lighthouses"


def test_renaming_refuses_get(alice_client, board):
    assert alice_client.get(f"/boards/{board.pk}/rename/").status_code == 405


def test_renaming_an_unknown_board_answers_404(alice_client):
    assert alice_client.post("/boards/999999/rename/", {"name": "New"}).status_code == 404


# -- Deleting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_the_maker_or_an_admin_deletes_it_and_the_images_stay(request, alice, board, who):
    row = generation(alice)
    put_on(board, row)
    client = request.getfixturevalue(f"{who}_client")
    response = client.post(f"/boards/{board.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/boards/", 302)]
    assert "The board “Lighthouses” is deleted. Its images are still in the studio." in (
        response.content.decode()
    )
    assert not Board.objects.filter(pk=board.pk).exists()
    assert BoardItem.objects.count() == 0
    assert Generation.objects.get(pk=row.pk).deleted_at is None


def test_another_member_cannot_delete_it(alice, bob_client, board):
    put_on(board, generation(alice))
    response = bob_client.post(f"/boards/{board.pk}/delete/")
    assert response.status_code == 403
    assert Board.objects.filter(pk=board.pk).exists()
    assert BoardItem.objects.filter(board=board).count() == 1


def test_deleting_refuses_get(alice_client, board):
    assert alice_client.get(f"/boards/{board.pk}/delete/").status_code == 405
    assert Board.objects.filter(pk=board.pk).exists()


def test_deleting_twice_answers_404(alice_client, board):
    alice_client.post(f"/boards/{board.pk}/delete/")
    assert alice_client.post(f"/boards/{board.pk}/delete/").status_code == 404


def test_it_opens_its_images_in_the_lightbox(alice, alice_client, board):
    row = generation(alice, prompt="A board harbour")
    board.items.create(generation=row, added_by=alice)
    body = alice_client.get(f"/boards/{board.pk}/").content.decode()
    assert [link[:2] for link in lightbox_links(body)] == [
        (f"/generations/{row.pk}/", row.image.url)
    ]
    assert body.count('<dialog id="lightbox"') == 1


# -- In Thai ---------------------------------------------------------------------------------------


def test_a_thai_member_sees_a_board_in_thai(alice, alice_thai_client, board):
    put_on(board, generation(alice, prompt="A lighthouse at dusk"))
    generation(alice, prompt="A harbour")  # offered under "Add recent images"
    body = page_text(alice_thai_client.get(f"/boards/{board.pk}/"))
    assert "<title> Lighthouses · บอร์ด · Imagen Studio </title>" in body
    assert "← บอร์ดทั้งหมด</a>" in body
    assert "1 ภาพ สร้างโดย alice" in body
    assert "ทุกคนในทีมเพิ่มหรือเอาภาพออกจากบอร์ดนี้ได้" in body
    assert "ดาวน์โหลดทั้งหมดเป็นไฟล์ zip" in body
    assert "<summary>เปลี่ยนชื่อ</summary>" in body
    assert 'data-confirm="ลบบอร์ด “Lighthouses” ใช่ไหม ภาพในบอร์ดจะยังอยู่ในสตูดิโอ"' in body
    assert ">ลบบอร์ด</button>" in body
    assert ">รายละเอียด</a>" in body
    assert ">เอาออก</button>" in body
    assert "<summary>เพิ่มภาพล่าสุด</summary>" in body
    assert 'aria-label="เพิ่ม “A harbour” ลงบอร์ดนี้"' in body
    for english in ("All boards", "Rename", "Delete board", ">Remove<", ">Details<", "image, made"):
        assert english not in body


def test_a_thai_member_reads_why_a_new_name_is_refused_in_thai(alice, alice_thai_client, board):
    Board.objects.create(name="Harbours")
    response = alice_thai_client.post(f"/boards/{board.pk}/rename/", {"name": "harbours"})
    assert response.status_code == 400
    assert "มีบอร์ดชื่อ “harbours” อยู่แล้ว ลองตั้งชื่ออื่น" in page_text(response)
    board.refresh_from_db()
    assert board.name == "Lighthouses"


def test_an_empty_board_says_so_in_thai(alice_thai_client, board):
    body = page_text(alice_thai_client.get(f"/boards/{board.pk}/"))
    assert "บอร์ดนี้ยังไม่มีภาพ เพิ่มได้จากปุ่ม “เพิ่มลงบอร์ด” ที่ภาพในสตูดิโอ" in body
    assert "0 ภาพ สร้างโดย alice" in body
