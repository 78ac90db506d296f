"""Writing the request into a file: PNG text chunks, JPEG and WebP XMP, spliced into the original
bytes. Each picture is made with Pillow here; each check reads the result back the way another
tool would (Pillow, and a small chunk walker written for these tests, not the module's own)."""

from __future__ import annotations

import io
import json
import re
import struct
import unicodedata
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from generations import metadata
from generations.metadata import ImageFacts, NotWritable
from tests.support import opened, png_text

THAI = "แมวสีส้มนั่งบนหลังคา ยามเย็น"  # an orange cat on a roof at dusk: vowel and tone marks
FACTS = ImageFacts(
    prompt=f"{THAI}, soft light",
    negative_prompt="blurry: text, watermark",
    seed=42,
    model="google-imagen4",
    aspect_ratio="16:9",
    width=33,
    height=17,
)
WRITTEN_PNG_TEXT = {
    "Description": f"{THAI}, soft light",
    "negative_prompt": "blurry: text, watermark",
    "seed": "42",
    "model": "google-imagen4",
    "aspect_ratio": "16:9",
    "Software": "Imagen Studio",
    "parameters": (
        f"{THAI}, soft light\nNegative prompt: blurry: text, watermark\n"
        'Seed: 42, Size: 33x17, Model: google-imagen4, Aspect ratio: "16:9"'
    ),
}


def picture(mode: str = "RGB", size: tuple[int, int] = (33, 17)) -> Image.Image:
    """Pixels that differ from each other (a gradient, some alpha), so a codec has work to do."""
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(size))
    return image.convert(mode)


def saved(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


# -- Walkers written for the tests -----------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk) of every PNG chunk."""
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append((data[pos + 4 : pos + 8], data[pos : pos + 12 + length]))
        pos += 12 + length
    return chunks


def jpeg_segments(data: bytes) -> list[bytes]:
    """Every whole segment between SOI and SOS."""
    segments, pos = [], 2
    while data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segments.append(data[pos : pos + 2 + length])
        pos += 2 + length
    return segments


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, payload) of every chunk in the RIFF container."""
    chunks, pos = [], 12
    while pos < len(data):
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def a1111_parse(text: str) -> dict[str, str]:
    """AUTOMATIC1111's reading of a ``parameters`` text (parse_generation_parameters in
    modules/infotext_utils.py): the last line is the settings when it holds at least three
    ``Key: value`` pairs; lines before it are the prompt until one starts "Negative prompt:"."""
    pair = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
    *lines, last = text.strip().split("\n")
    if len(pair.findall(last)) < 3:
        lines, last = [*lines, last], ""
    found: dict[str, list[str]] = {"Prompt": [], "Negative prompt": []}
    into = "Prompt"
    for line in (line.strip() for line in lines):
        if line.startswith("Negative prompt:"):
            into, line = "Negative prompt", line[16:].strip()
        found[into].append(line)
    settings = {k: json.loads(v) if v[:1] == '"' else v for k, v in pair.findall(last)}
    return {k: "\n".join(v) for k, v in found.items()} | settings


def xmp_of(data: bytes) -> dict[str, Any]:
    description = opened(data).getxmp()["xmpmeta"]["RDF"]["Description"]
    assert isinstance(description, dict)
    return description


# -- Every format ----------------------------------------------------------------------------------

FILES = {
    "png": lambda: saved(picture(), "PNG"),
    "png with alpha": lambda: saved(picture("RGBA"), "PNG"),
    "png with a palette": lambda: saved(picture("P"), "PNG"),
    "jpeg": lambda: saved(picture(), "JPEG", quality=80),
    "lossy webp": lambda: saved(picture(), "WEBP", quality=80),
    "lossless webp": lambda: saved(picture(), "WEBP", lossless=True),
    "lossy webp with alpha": lambda: saved(picture("RGBA"), "WEBP", quality=80),
    "lossless webp with alpha": lambda: saved(picture("RGBA"), "WEBP", lossless=True),
}


@pytest.mark.parametrize("name", FILES)
def test_it_never_changes_the_pixels(name):
    original = FILES[name]()
    written = metadata.with_metadata(original, FACTS)
    assert written != original
    before, after = opened(original), opened(written)
    assert (after.format, after.mode, after.size) == (before.format, before.mode, before.size)
    assert after.tobytes() == before.tobytes()


@pytest.mark.parametrize("name", FILES)
def test_it_writes_the_same_bytes_when_written_twice(name):
    once = metadata.with_metadata(FILES[name](), FACTS)
    assert metadata.with_metadata(once, FACTS) == once


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00",  # a chunk cut short
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xae\x42\x60\x82",  # no IHDR
        b"\xff\xd8\xff\xe0\x00\x40JFIF\x00",  # a segment longer than the file
        b"\xff\xd8\xff\xe0",  # a marker and no length
        b"\xff\xd8\x00\x00\x00\x00",  # no marker after SOI
        b"RIFF\xff\x00\x00\x00WEBPVP8 ",  # a RIFF size beyond the end
        b"RIFF\x0c\x00\x00\x00WEBPVP8 \x00\x00\x00\x00",  # a VP8 chunk with no frame header
        b"RIFF\x04\x00\x00\x00WEBP",  # no chunks
    ],
)
def test_it_refuses_bytes_it_cannot_follow(data):
    with pytest.raises(NotWritable):
        metadata.with_metadata(data, FACTS)


# -- PNG -------------------------------------------------------------------------------------------


def test_it_writes_the_request_into_a_png_that_pillow_reads_back():
    written = metadata.write_png(saved(picture(), "PNG"), FACTS)
    assert png_text(written) == WRITTEN_PNG_TEXT


def test_it_puts_png_text_right_after_ihdr_and_keeps_every_other_chunk_byte_for_byte():
    original = saved(picture(), "PNG")
    kinds = [kind for kind, _ in png_chunks(metadata.write_png(original, FACTS))]
    assert kinds == [b"IHDR", b"iTXt", *[b"tEXt"] * 5, b"iTXt", b"IDAT", b"IEND"]
    written = png_chunks(metadata.write_png(original, FACTS))
    assert [c for c in written if c[0] not in (b"tEXt", b"iTXt")] == png_chunks(original)


def test_it_keeps_what_follows_iend():
    original = saved(picture(), "PNG") + b"bytes after the end"
    assert metadata.write_png(original, FACTS).endswith(b"IEND\xaeB`\x82bytes after the end")


def test_it_writes_png_crcs_a_strict_reader_accepts():
    written = metadata.write_png(saved(picture(), "PNG"), FACTS)
    for kind, chunk in png_chunks(written):
        body = chunk[8:-4]
        assert struct.unpack(">I", chunk[-4:])[0] == zlib.crc32(kind + body), kind


def test_it_replaces_png_text_under_its_own_keys_and_keeps_the_rest():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "an old line\nSteps: 20, Seed: 1, Size: 8x8")
    info.add_text("negative_prompt", "old", zip=True)  # zTXt: replaced whatever its kind
    info.add_itxt("Description", "an old description")
    info.add_text("Comment", "kept as it was")
    original = saved(picture(), "PNG", pnginfo=info)
    text = png_text(metadata.write_png(original, FACTS))
    assert text == WRITTEN_PNG_TEXT | {"Comment": "kept as it was"}


def test_it_drops_an_old_value_it_now_leaves_out():
    info = PngImagePlugin.PngInfo()
    info.add_text("negative_prompt", "an old negative prompt")
    info.add_text("seed", "7")
    facts = ImageFacts("A fox", "", None, "google-imagen4", "1:1", 33, 17)
    text = png_text(metadata.write_png(saved(picture(), "PNG", pnginfo=info), facts))
    assert "negative_prompt" not in text
    assert "seed" not in text


def test_it_keeps_a_long_thai_prompt_whole_in_a_png():
    long_thai = THAI * 200  # 5,600 characters, about 16 kB of UTF-8
    facts = ImageFacts(long_thai, long_thai, 1, "google-imagen4", "1:1", 33, 17)
    text = png_text(metadata.write_png(saved(picture(), "PNG"), facts))
    assert text["Description"] == long_thai
    assert a1111_parse(text["parameters"])["Negative prompt"] == long_thai


PNG_FOR_PROPERTY = saved(picture(size=(4, 4)), "PNG")
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc", "Cn")) | st.just("\n")


@given(st.text(PRINTABLE, min_size=1, max_size=300))
def test_it_keeps_any_prompt_a_png_can_hold(prompt):
    facts = ImageFacts(prompt, "", 3, "google-imagen4", "1:1", 4, 4)
    assert png_text(metadata.write_png(PNG_FOR_PROPERTY, facts))["Description"] == prompt


def test_it_writes_line_breaks_as_line_feeds_and_drops_what_xml_cannot_hold():
    facts = ImageFacts("one\r\ntwo\rthree\x00\x07", "", 3, "google-imagen4", "1:1", 33, 17)
    png = metadata.write_png(saved(picture(), "PNG"), facts)
    jpeg = metadata.write_jpeg(saved(picture(), "JPEG"), facts)
    assert png_text(png)["Description"] == "one\ntwo\nthree"
    assert xmp_of(jpeg)["description"]["Alt"]["li"]["text"] == "one\ntwo\nthree"


# -- The parameters line ---------------------------------------------------------------------------


def test_it_writes_the_parameters_line_as_a1111_reads_it():
    facts = ImageFacts(
        "A harbour at night,\nlanterns: many", "fog\nrain", 7, "google-imagen4", "3:4", 896, 1280
    )
    assert a1111_parse(metadata.parameters_line(facts)) == {
        "Prompt": "A harbour at night,\nlanterns: many",
        "Negative prompt": "fog\nrain",
        "Seed": "7",
        "Size": "896x1280",
        "Model": "google-imagen4",
        "Aspect ratio": "3:4",
    }


def test_it_leaves_a_seed_left_to_chance_out_and_still_writes_a_settings_line():
    facts = ImageFacts("A fox", "", None, "google-imagen4", "1:1", 1024, 1024)
    line = metadata.parameters_line(facts)
    assert line == 'A fox\nSize: 1024x1024, Model: google-imagen4, Aspect ratio: "1:1"'
    assert a1111_parse(line)["Prompt"] == "A fox"


# -- JPEG ------------------------------------------------------------------------------------------


def test_it_writes_the_request_into_a_jpeg_as_xmp_that_pillow_reads_back():
    xmp = xmp_of(metadata.write_jpeg(saved(picture(), "JPEG"), FACTS))
    assert xmp["description"]["Alt"]["li"]["text"] == FACTS.prompt
    assert xmp["NegativePrompt"] == FACTS.negative_prompt
    assert (xmp["Model"], xmp["AspectRatio"], xmp["Seed"], xmp["Size"]) == (
        "google-imagen4",
        "16:9",
        "42",
        "33x17",
    )
    assert xmp["CreatorTool"] == "Imagen Studio"
    assert xmp["Parameters"] == WRITTEN_PNG_TEXT["parameters"]
    assert "Note" not in xmp


def test_it_adds_only_its_segment_to_a_jpeg():
    original = saved(picture(), "JPEG")
    written = metadata.write_jpeg(original, FACTS)
    added = [s for s in jpeg_segments(written) if s not in jpeg_segments(original)]
    assert len(added) == 1
    assert added[0][4:33] == b"http://ns.adobe.com/xap/1.0/\x00"
    assert written.replace(added[0], b"", 1) == original


def test_it_puts_the_xmp_after_jfif_and_exif_and_keeps_the_exif():
    exif = Image.Exif()
    exif[0x010F] = "A camera maker"  # Make
    original = saved(picture(), "JPEG", exif=exif)
    written = metadata.write_jpeg(original, FACTS)
    headers = [s[:2] + s[4:8] for s in jpeg_segments(written)[:3]]
    assert headers == [b"\xff\xe0JFIF", b"\xff\xe1Exif", b"\xff\xe1http"]
    assert opened(written).getexif()[0x010F] == "A camera maker"


def test_it_replaces_the_xmp_a_jpeg_already_carries():
    old = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    original = saved(picture(), "JPEG", xmp=old)
    written = metadata.write_jpeg(original, FACTS)
    xmp_segments = [s for s in jpeg_segments(written) if s[4:8] == b"http"]
    assert len(xmp_segments) == 1
    assert xmp_of(written)["NegativePrompt"] == FACTS.negative_prompt
    others = [s for s in jpeg_segments(original) if s[4:8] != b"http"]
    assert [s for s in jpeg_segments(written) if s[4:8] != b"http"] == others


def test_it_cuts_prompts_too_long_for_one_jpeg_segment_and_says_so():
    long_prompt = "&<" * 20_000  # 180 kB once escaped: far over one segment's 64 kB
    facts = ImageFacts(long_prompt, THAI * 3000, 5, "google-imagen4", "1:1", 33, 17)
    original = saved(picture(), "JPEG")
    written = metadata.write_jpeg(original, facts)
    xmp = xmp_of(written)
    description = xmp["description"]["Alt"]["li"]["text"]
    assert description.endswith("…")
    assert long_prompt.startswith(description[:-1])
    assert xmp["Note"] == metadata.CUT_NOTE
    assert xmp["Seed"] == "5"
    assert a1111_parse(xmp["Parameters"])["Seed"] == "5"
    assert opened(written).tobytes() == opened(original).tobytes()


def test_it_never_cuts_a_thai_letter_from_its_marks():
    cut = metadata.cut_text(THAI, 3)  # the third character, "ว", is followed by no mark
    assert cut == "แมว…"
    cut = metadata.cut_text("สี", 1)  # "ี" belongs to "ส": both go, or both stay
    assert cut == "…"


# -- WebP ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "image_chunk"), [({"quality": 80}, b"VP8 "), ({"lossless": True}, b"VP8L")]
)
def test_it_turns_a_simple_webp_into_an_extended_one_with_the_same_image(options, image_chunk):
    original = saved(picture(size=(33, 17)), "WEBP", **options)
    assert webp_chunks(original)[0][0] == image_chunk  # Pillow made a simple file
    written = metadata.write_webp(original, FACTS)
    chunks = webp_chunks(written)
    assert [fourcc for fourcc, _ in chunks] == [b"VP8X", image_chunk, b"XMP "]
    flags, width, height = chunks[0][1][0], chunks[0][1][4:7], chunks[0][1][7:10]
    assert flags == 0x04  # XMP only
    assert (int.from_bytes(width, "little") + 1, int.from_bytes(height, "little") + 1) == (33, 17)
    assert chunks[1] == webp_chunks(original)[0]
    assert struct.unpack("<I", written[4:8])[0] == len(written) - 8
    assert xmp_of(written)["description"]["Alt"]["li"]["text"] == FACTS.prompt


def test_it_sets_the_alpha_flag_for_a_lossless_webp_with_alpha():
    original = saved(picture("RGBA"), "WEBP", lossless=True)
    assert webp_chunks(original)[0][0] == b"VP8L"
    written = metadata.write_webp(original, FACTS)
    assert webp_chunks(written)[0][1][0] == 0x04 | 0x10
    assert opened(written).mode == "RGBA"


def test_it_keeps_the_exif_and_replaces_the_xmp_of_an_extended_webp():
    exif = Image.Exif()
    exif[0x010F] = "A camera maker"
    old_xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    original = saved(picture("RGBA"), "WEBP", exif=exif, xmp=old_xmp)
    before = webp_chunks(original)
    written = metadata.write_webp(original, FACTS)
    after = webp_chunks(written)
    assert [fourcc for fourcc, _ in after] == [b"VP8X", b"ALPH", b"VP8 ", b"EXIF", b"XMP "]
    assert after[0][1][0] == before[0][1][0]  # the flags already said EXIF, XMP and alpha
    assert after[1:4] == before[1:4]
    assert opened(written).getexif()[0x010F] == "A camera maker"
    assert xmp_of(written)["Seed"] == "42"


# -- The file's name -------------------------------------------------------------------------------


def test_it_names_the_file_from_the_prompt():
    names = metadata.download_names("A fox, in the SNOW!", 1, ".png", "image-9")
    assert names == ("a-fox-in-the-snow.png", "a-fox-in-the-snow.png")


def test_it_keeps_thai_in_the_name_and_falls_back_to_the_given_name_in_ascii():
    name, ascii_name = metadata.download_names(THAI, 1, ".webp", "image-9")
    assert name == "แมวสีส้มนั่งบนหลังคา-ยามเย็น.webp"
    assert ascii_name == "image-9.webp"


def test_it_numbers_every_image_after_the_first():
    assert metadata.download_names("A fox", 2, ".jpg", "image-9") == ("a-fox-2.jpg", "a-fox-2.jpg")


def test_it_gives_ascii_letters_for_accented_ones_in_the_fallback():
    assert metadata.download_names("Café déjà vu", 1, ".png", "image-9")[1] == "cafe-deja-vu.png"


def test_it_cuts_a_long_name_at_a_hyphen():
    prompt = "A quiet harbour at night with boats and lanterns reflecting in the still water"
    name, _ = metadata.download_names(prompt, 1, ".png", "image-9")
    assert name == "a-quiet-harbour-at-night-with-boats-and-lanterns-reflecting.png"


def test_it_cuts_a_long_thai_name_without_leaving_a_mark_behind():
    name, _ = metadata.download_names(THAI.replace(" ", "") * 10, 1, ".png", "image-9")
    stem = name.removesuffix(".png")
    assert 50 <= len(stem) <= metadata.NAME_MAX
    next_character = (THAI.replace(" ", "") * 10)[len(stem)]
    assert unicodedata.category(next_character)[0] != "M"


def test_it_names_a_prompt_without_letters_after_the_fallback():
    assert metadata.download_names("🦊 !!!", 3, ".png", "image-9") == (
        "image-9-3.png",
        "image-9-3.png",
    )
