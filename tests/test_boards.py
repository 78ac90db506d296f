"""generations.boards on its own: names inside a board's zip."""

from __future__ import annotations

import pytest

from generations.boards import FILE_STEM_MAX, FileNames, file_stem


@pytest.mark.parametrize(
    ("prompt", "stem"),
    [
        ("A lighthouse at dawn, watercolour!", "a-lighthouse-at-dawn-watercolour"),
        ("Café \u2013 Zoë's “bike”", "café-zoë-s-bike"),  # an en dash
        ("แมวสีส้ม นอนบนหลังคา", "แมวสีส้ม-นอนบนหลังคา"),  # Thai vowel signs kept
        ("दिल्ली की सड़क", "दिल्ली-की-सड़क"),  # so are Devanagari's
        ("日本の自転車", "日本の自転車"),
        ("../../etc/passwd", "etc-passwd"),
        ("🚲 🚲", "image"),
        ("", "image"),
        ("CON", "con-image"),
        ("lpt1", "lpt1-image"),
    ],
)
def test_it_makes_a_file_stem_from_a_prompt(prompt, stem):
    assert file_stem(prompt) == stem


def test_it_cuts_a_long_prompt_at_a_word():
    stem = file_stem("word " * 30)
    assert len(stem) <= FILE_STEM_MAX
    assert stem == "-".join(["word"] * 12)


def test_it_cuts_one_long_thai_word_without_leaving_a_letter_without_its_vowel_sign():
    prompt = "ที่" * 40  # a letter, then two signs above it; no spaces, as Thai is written
    stem = file_stem(prompt)
    assert len(stem) <= FILE_STEM_MAX
    assert stem.endswith("ที่")


def test_it_numbers_the_same_name_and_never_repeats_one():
    names = FileNames()
    made = [names.unique(p, ".png") for p in ("A fox", "a fox", "A fox 2", "A fox", "x")]
    assert made == ["a-fox.png", "a-fox-2.png", "a-fox-2-2.png", "a-fox-3.png", "x.png"]
    assert names.unique("missing images", ".txt") == "missing-images-2.txt"
