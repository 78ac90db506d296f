"""GET /boards/<id>/download.zip: every original on the board in one zip, written while it is
sent. Read back with zipfile: every member present, its bytes equal to the stored file."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.http import StreamingHttpResponse
from django.utils import timezone

from generations.models import Board, BoardItem, Generation, GenerationImage, Status
from imagen_site.storage import media_storage
from tests.rows import batch, generation
from tests.support import png_bytes

pytestmark = pytest.mark.django_db

THAI = "แมวสีส้มนอนบนหลังคา"  # "an orange cat asleep on the roof": vowel signs above and below


@pytest.fixture
def board(alice):
    return Board.objects.create(name="Lighthouses", maker=alice)


def keep(board, user, prompt: str, *sizes: int) -> list[bytes]:
    """A generation of ``user`` on ``board`` whose images are squares of the given sizes (so
    each file's bytes differ); returns their bytes in order."""
    row = generation(user, prompt=prompt)
    GenerationImage.objects.filter(generation=row).delete()
    contents = []
    for position, size in enumerate(sizes):
        data = png_bytes(size, size)
        name = default_storage.save(f"generations/test/{row.pk}-{position}.png", ContentFile(data))
        row.images.create(position=position, image=name, width=size, height=size)
        contents.append(data)
    BoardItem.objects.create(board=board, generation=row, added_by=user)
    return contents


def read_zip(response) -> zipfile.ZipFile:
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def test_it_holds_every_original_named_from_its_prompt_newest_first(
    alice, bob, alice_client, board
):
    fox = keep(board, alice, "A fox in snow", 10)
    fox_pair = keep(board, bob, "A fox in snow!", 20, 30)
    cat = keep(board, alice, THAI, 40)
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = read_zip(response)
    expected = {
        f"{THAI}.png": cat[0],
        "a-fox-in-snow.png": fox_pair[0],
        "a-fox-in-snow-2.png": fox_pair[1],
        "a-fox-in-snow-3.png": fox[0],
    }
    assert archive.namelist() == list(expected)
    for name, data in expected.items():
        assert archive.read(name) == data
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    assert archive.getinfo(f"{THAI}.png").flag_bits & 0x800  # the name is marked UTF-8


def test_it_streams_and_opens_each_original_only_when_the_zip_reaches_it(
    alice, alice_client, board, monkeypatch
):
    for size in (10, 20, 30):
        keep(board, alice, f"Image {size}", size)
    opened: list[str] = []
    storage = media_storage()  # the folder, or the bucket on the production tier
    assert isinstance(storage, Storage)
    in_use = type(storage)
    real_open = in_use.open

    def spy(self, name, mode="rb"):
        opened.append(name)
        return real_open(self, name, mode)

    monkeypatch.setattr(in_use, "open", spy)
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert opened == []  # nothing read while the response was being made
    chunks = response.streaming_content
    assert isinstance(chunks, Iterator)  # a generator, not a list of bytes made in advance
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04")  # a local file header, before any file was read
    assert len(opened) <= 1
    rest = b"".join(chunks)
    assert len(opened) == 3
    assert len(first + rest) == int(response["Content-Length"])


def test_it_names_the_download_after_the_board(alice, alice_client, board):
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    assert response["Content-Disposition"] == 'attachment; filename="Lighthouses.zip"'


def test_it_keeps_a_unicode_board_name_and_drops_slashes(alice, alice_client):
    board = Board.objects.create(name="ภาพ/แมว", maker=alice)
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E0%B8%A0%E0%B8%B2%E0%B8%9E-%E0%B9%81%E0%B8%A1%E0%B8%A7.zip"
    )


def test_it_leaves_out_deleted_generations(alice, alice_client, board):
    keep(board, alice, "Kept", 10)
    keep(board, alice, "Deleted since", 20)
    Generation.objects.filter(prompt="Deleted since").update(deleted_at=timezone.now())
    archive = read_zip(alice_client.get(f"/boards/{board.pk}/download.zip"))
    assert archive.namelist() == ["kept.png"]


def test_it_names_a_missing_file_instead_of_failing(alice, alice_client, board):
    keep(board, alice, "Still stored", 10)
    keep(board, alice, "Lost from storage", 20)
    lost = GenerationImage.objects.get(generation__prompt="Lost from storage")
    default_storage.delete(str(lost.image.name))
    response = alice_client.get(f"/boards/{board.pk}/download.zip")
    assert response.status_code == 200
    archive = read_zip(response)
    assert archive.namelist() == ["still-stored.png", "missing-images.txt"]
    assert archive.read("missing-images.txt").decode() == (
        "These images could not be read from storage and are not in this zip:\n"
        "- Lost from storage\n"
    )


def test_an_empty_board_is_an_empty_zip(alice_client, board):
    archive = read_zip(alice_client.get(f"/boards/{board.pk}/download.zip"))
    assert archive.namelist() == []


def test_any_member_downloads_any_board(alice, bob_client, board):
    data = keep(board, alice, "Alice's", 10)
    archive = read_zip(bob_client.get(f"/boards/{board.pk}/download.zip"))
    assert archive.read("alice-s.png") == data[0]


def test_it_answers_404_for_an_unknown_board(alice_client):
    assert alice_client.get("/boards/999999/download.zip").status_code == 404


def test_it_refuses_post(alice_client, board):
    assert alice_client.post(f"/boards/{board.pk}/download.zip").status_code == 405


def test_it_requires_sign_in(client, board):
    response = client.get(f"/boards/{board.pk}/download.zip")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_holds_every_image_of_a_request_on_the_board(alice, alice_client, board):
    lead, _, third = batch(alice, Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, prompt="Dune")
    BoardItem.objects.create(board=board, generation=lead, added_by=alice)
    archive = read_zip(alice_client.get(f"/boards/{board.pk}/download.zip"))
    assert archive.namelist() == ["dune.png", "dune-2.png"]
    stored = default_storage.open(str(third.images.get().image.name)).read()
    assert archive.read("dune-2.png") == stored
