"""The prompt written on the simulator's pictures: Thai in the studio's Thai face."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from rivya_sim import images
from rivya_sim.images import ArtSpec, render_png, script_runs

NOT_A_LETTER = "\ue000"  # a private-use code point: every face draws its "no glyph" box


def drawn(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    canvas = Image.new("L", (120, 120))
    ImageDraw.Draw(canvas).text((30, 20), char, font=font, fill=255)
    return canvas.tobytes()


def draws_a_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """Whether ``font`` draws ``char`` itself rather than its box for a missing glyph."""
    return drawn(font, char) != drawn(font, NOT_A_LETTER)


def test_the_thai_face_has_the_thai_letters_and_marks():
    font = images._thai_font(40)
    assert font.getname()[0] == "Noto Sans Thai"
    assert all(draws_a_glyph(font, c) for c in "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ")
    assert all(draws_a_glyph(font, c) for c in "ะาำเแโใไๅ่้๊๋์ๆฯ๐๑๒๓๔๕๖๗๘๙")


def test_pillows_own_face_has_no_thai_which_is_why_the_thai_face_is_needed():
    assert not draws_a_glyph(images._font(40), "ก")
    assert draws_a_glyph(images._font(40), "A")


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("a cat", [("a cat", False)]),
        ("แมว", [("แมว", True)]),
        ("แมวส้ม in a room ที่บ้าน", [("แมวส้ม ", True), ("in a room ", False), ("ที่บ้าน", True)]),
        ("", []),
    ],
)
def test_it_cuts_a_caption_where_the_script_changes(text, runs):
    assert list(script_runs(text)) == runs


def test_a_thai_prompt_is_written_in_the_thai_face(monkeypatch):
    used: list[str] = []
    thai_font = images._thai_font

    def spy(size: int) -> ImageFont.FreeTypeFont:
        used.append("thai")
        return thai_font(size)

    monkeypatch.setattr(images, "_thai_font", spy)
    render_png(ArtSpec("a lantern festival", "1", "google-imagen4", "1:1"))
    assert used == []
    render_png(ArtSpec("โคมลอยยามค่ำคืน", "1", "google-imagen4", "1:1"))
    assert used == ["thai"]
