"""What a downloaded image carries: the request that made it, written into the file, and a name
made from its prompt. Pure functions over bytes and strings; nothing here reads a row or a file.

The invariant: writing metadata never re-encodes the pixels. Each writer walks the original byte
stream, splices its metadata chunk or segment in, and copies every other chunk or segment byte
for byte; Pillow is never asked to save anything. Metadata of the same kind and key is replaced,
never duplicated, so writing twice gives the same bytes as writing once.

- PNG: text chunks right after IHDR, with their CRCs. Plain ASCII goes in ``tEXt``, which every
  reader reads; anything else in ``iTXt`` as UTF-8, so a Thai prompt survives. The prompt is under
  PNG's standard ``Description`` keyword, not ``prompt``: ComfyUI reads a ``prompt`` chunk as its
  own JSON workflow and fails on plain text.
- JPEG: one XMP APP1 segment, after the JFIF and Exif segments. A segment holds at most 65,533
  bytes; when the prompts do not fit, they are cut short in the XMP and a note says so. They are
  not split into ExtendedXMP, which few readers follow.
- WebP: an ``XMP `` chunk. A simple file (one VP8 or VP8L chunk) becomes an extended one: a VP8X
  header with the XMP flag and the canvas size read from the bitstream's own header.

A file whose structure a writer cannot follow raises ``NotWritable``; the caller decides what to
serve instead (the view serves the original as it is).
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

SOFTWARE = "Imagen Studio"
# Our own XMP properties (negative prompt, model, seed...) live in this namespace; a URN, so it
# can never be mistaken for, or collide with, anyone else's.
XMP_NAMESPACE = "urn:imagen-studio:xmp:1.0:"
CUT_NOTE = "The prompts were too long to keep in full in this file. The studio keeps them whole."


class NotWritable(ValueError):
    """The bytes are not a PNG, JPEG or WebP file whose structure the writers can follow."""


@dataclass(frozen=True)
class ImageFacts:
    """The request behind one image, as it is written into the file."""

    prompt: str
    negative_prompt: str
    seed: int | None  # None: the seed was left to chance and is not known
    model: str
    aspect_ratio: str
    width: int
    height: int


# -- Text every format shares ----------------------------------------------------------------------

# Characters XML 1.0 cannot hold (PNG text cannot hold NUL either): removed, never escaped.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(text: str) -> str:
    """``text`` as every format can keep it: line breaks as one line feed (PNG text requires
    it, XML readers make it so anyway, and a browser's form sends CR LF), no unwritable
    characters."""
    return _UNWRITABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _writable(facts: ImageFacts) -> ImageFacts:
    return replace(
        facts,
        prompt=_text(facts.prompt),
        negative_prompt=_text(facts.negative_prompt),
        model=_text(facts.model),
        aspect_ratio=_text(facts.aspect_ratio),
    )


def _a1111_value(value: str) -> str:
    """A value as AUTOMATIC1111 writes it: JSON-quoted when it holds a comma, colon or newline,
    which would otherwise end the value or the line (its ``quote`` in infotext_utils)."""
    if not any(c in value for c in ",:\n"):
        return value
    return json.dumps(value, ensure_ascii=False)


def parameters_line(facts: ImageFacts) -> str:
    """The request in the ``parameters`` form AUTOMATIC1111 writes and its PNG Info tab reads
    back (tests/test_metadata.py reads it by the same rules)::

        <prompt>
        Negative prompt: <negative prompt>
        Seed: 42, Size: 1024x1024, Model: google-imagen4, Aspect ratio: "1:1"

    The last line holds at least three ``Key: value`` pairs, as A1111's reader requires to take
    it for the settings line (Size, Model and Aspect ratio are always there). Imagen does not
    report sampler steps or a CFG scale, so they are left out rather than made up; a seed left
    to chance is left out too. The cost: readers that look for a line starting ``Steps:``
    (ComfyUI's importer, some galleries) do not recognise it.
    """
    facts = _writable(facts)
    settings = {
        "Seed": None if facts.seed is None else str(facts.seed),
        "Size": f"{facts.width}x{facts.height}",
        "Model": facts.model,
        "Aspect ratio": facts.aspect_ratio,
    }
    line = ", ".join(f"{k}: {_a1111_value(v)}" for k, v in settings.items() if v is not None)
    negative = f"\nNegative prompt: {facts.negative_prompt}" if facts.negative_prompt else ""
    return f"{facts.prompt}{negative}\n{line}"


# -- PNG -------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# Every key this module writes; an existing text chunk under one of them is replaced (or dropped,
# when the value is now empty), whatever its kind.
PNG_KEYS = (
    "Description",
    "negative_prompt",
    "seed",
    "model",
    "aspect_ratio",
    "Software",
    "parameters",
)


def png_text(facts: ImageFacts) -> dict[str, str]:
    """The PNG text chunks for ``facts``, by key; an empty value is not written."""
    facts = _writable(facts)
    values = {
        "Description": facts.prompt,
        "negative_prompt": facts.negative_prompt,
        "seed": "" if facts.seed is None else str(facts.seed),
        "model": facts.model,
        "aspect_ratio": facts.aspect_ratio,
        "Software": SOFTWARE,
        "parameters": parameters_line(facts),
    }
    return {key: value for key, value in values.items() if value}


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_text_chunk(key: str, text: str) -> bytes:
    if text.isascii():
        return _png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + text.encode("ascii"))
    # keyword, NUL, not compressed (0), method 0, no language tag, no translated keyword
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


class _PngChunk(NamedTuple):
    kind: bytes
    body: bytes
    raw: bytes  # length, type, body and CRC, exactly as in the file


def _png_chunks(data: bytes) -> tuple[list[_PngChunk], bytes]:
    """Every chunk up to and including IEND, and whatever follows IEND (kept as it is)."""
    if not data.startswith(PNG_SIGNATURE):
        raise NotWritable("not a PNG file")
    chunks: list[_PngChunk] = []
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise NotWritable(f"a PNG chunk header runs past the end at byte {pos}")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if end > len(data):
            raise NotWritable(f"a PNG chunk runs past the end at byte {pos}")
        chunks.append(_PngChunk(data[pos + 4 : pos + 8], data[pos + 8 : end - 4], data[pos:end]))
        pos = end
        if chunks[-1].kind == b"IEND":
            break
    if not chunks or chunks[0].kind != b"IHDR":
        raise NotWritable("a PNG file that does not start with IHDR")
    return chunks, data[pos:]


def _is_ours(chunk: _PngChunk) -> bool:
    if chunk.kind not in PNG_TEXT_CHUNKS:
        return False
    return chunk.body.split(b"\0", 1)[0].decode("latin-1") in PNG_KEYS


def write_png(data: bytes, facts: ImageFacts) -> bytes:
    """``data`` with the request in text chunks right after IHDR; every other chunk unchanged."""
    chunks, trailing = _png_chunks(data)
    text = b"".join(_png_text_chunk(key, value) for key, value in png_text(facts).items())
    kept = b"".join(chunk.raw for chunk in chunks[1:] if not _is_ours(chunk))
    return PNG_SIGNATURE + chunks[0].raw + text + kept + trailing


# -- XMP (JPEG and WebP) ---------------------------------------------------------------------------

XMP_PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"  # the fixed id every XMP packet wrapper carries


def _alt(text: str) -> str:
    return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt>'


def _xmp(facts: ImageFacts, *, cut: bool) -> bytes:
    attributes = {
        "xmp:CreatorTool": SOFTWARE,
        "imagen:Model": facts.model,
        "imagen:AspectRatio": facts.aspect_ratio,
        "imagen:Seed": None if facts.seed is None else str(facts.seed),
        "imagen:Size": f"{facts.width}x{facts.height}",
        "imagen:Note": CUT_NOTE if cut else None,
    }
    elements = {
        "dc:description": _alt(facts.prompt),
        "imagen:NegativePrompt": escape(facts.negative_prompt) if facts.negative_prompt else None,
        "imagen:Parameters": escape(parameters_line(facts)),
    }
    attrs = "".join(f"\n    {k}={quoteattr(v)}" for k, v in attributes.items() if v is not None)
    body = "".join(f"\n   <{k}>{v}</{k}>" for k, v in elements.items() if v is not None)
    return (
        f'<?xpacket begin="\ufeff" id="{XMP_PACKET_ID}"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'    xmlns:imagen="{XMP_NAMESPACE}"{attrs}>{body}\n'
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    ).encode()


def xmp_packet(facts: ImageFacts, max_bytes: int | None = None) -> bytes:
    """The XMP packet for ``facts``. Over ``max_bytes``, the prompts are cut shorter and shorter
    (whole characters, a note saying so) until it fits; the settings are never cut."""
    facts = _writable(facts)
    packet = _xmp(facts, cut=False)
    for limit in (4000, 2000, 1000, 500, 250, 100):
        if max_bytes is None or len(packet) <= max_bytes:
            return packet
        shorter = replace(
            facts,
            prompt=cut_text(facts.prompt, limit),
            negative_prompt=cut_text(facts.negative_prompt, limit),
        )
        packet = _xmp(shorter, cut=True)
    if max_bytes is not None and len(packet) > max_bytes:
        raise NotWritable(f"the settings alone need {len(packet)} bytes of XMP")
    return packet


# -- JPEG ------------------------------------------------------------------------------------------

SOI, SOS, EOI, APP0, APP1 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\0"
EXIF_HEADER = b"Exif\0\0"
# A segment's length field counts itself (2 bytes) and the body, in 16 bits.
MAX_XMP_IN_JPEG = 0xFFFF - 2 - len(XMP_HEADER)


class _Segment(NamedTuple):
    marker: int
    body: bytes
    raw: bytes  # fill bytes, marker, length and body, exactly as in the file


def _jpeg_segments(data: bytes) -> tuple[list[_Segment], bytes]:
    """The segments between SOI and the first scan (or EOI), and the rest from there, as is."""
    if not data.startswith(b"\xff\xd8"):
        raise NotWritable("not a JPEG file")
    segments: list[_Segment] = []
    pos = 2
    while True:
        start = pos
        while data[pos : pos + 2] == b"\xff\xff":  # fill bytes before a marker
            pos += 1
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise NotWritable(f"no JPEG marker at byte {pos}")
        marker = data[pos + 1]
        if marker in (SOS, EOI):
            return segments, data[start:]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length or body
            segments.append(_Segment(marker, b"", data[start : pos + 2]))
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0] if pos + 4 <= len(data) else 0
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise NotWritable(f"a JPEG segment runs past the end at byte {pos}")
        segments.append(_Segment(marker, data[pos + 4 : end], data[start:end]))
        pos = end


def _is_xmp(segment: _Segment) -> bool:
    return segment.marker == APP1 and segment.body.startswith((XMP_HEADER, EXTENDED_XMP_HEADER))


def _leads(segment: _Segment) -> bool:
    """JFIF (APP0) must come first, and readers expect Exif before XMP."""
    return segment.marker == APP0 or (segment.marker == APP1 and segment.body[:6] == EXIF_HEADER)


def write_jpeg(data: bytes, facts: ImageFacts) -> bytes:
    """``data`` with the request in one XMP segment after the JFIF and Exif segments; any XMP
    (and ExtendedXMP) it carried is replaced; every other segment and the scans unchanged."""
    segments, rest = _jpeg_segments(data)
    kept = [segment for segment in segments if not _is_xmp(segment)]
    at = 0
    while at < len(kept) and _leads(kept[at]):
        at += 1
    body = XMP_HEADER + xmp_packet(facts, MAX_XMP_IN_JPEG)
    xmp = bytes([0xFF, APP1]) + struct.pack(">H", len(body) + 2) + body
    head = b"".join(segment.raw for segment in kept[:at])
    tail = b"".join(segment.raw for segment in kept[at:])
    return b"\xff\xd8" + head + xmp + tail + rest


# -- WebP ------------------------------------------------------------------------------------------

VP8X_XMP = 0x04
VP8X_ALPHA = 0x10
# Chunks the WebP container defines before XMP, in order; XMP goes after the last of them, so
# any chunk unknown to the format stays after it, as the container expects.
WEBP_BEFORE_XMP = (b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L", b"EXIF")


class _RiffChunk(NamedTuple):
    fourcc: bytes
    payload: bytes
    raw: bytes  # header, payload and its pad byte, exactly as in the file


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _webp_chunks(data: bytes) -> tuple[list[_RiffChunk], bytes]:
    """Every chunk inside the RIFF container, and whatever follows the container (kept)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise NotWritable("not a WebP file")
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise NotWritable("a WebP file shorter than its RIFF header says")
    chunks: list[_RiffChunk] = []
    pos = 12
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if pos + 8 + size > end:
            raise NotWritable(f"a WebP chunk runs past the end at byte {pos}")
        payload = data[pos + 8 : pos + 8 + size]
        raw = data[pos : pos + 8 + size + (size & 1)]
        chunks.append(_RiffChunk(fourcc, payload, raw if len(raw) % 2 == 0 else raw + b"\0"))
        pos += 8 + size + (size & 1)
    if not chunks:
        raise NotWritable("a WebP file with no chunks")
    return chunks, data[end:]


def _canvas(image: _RiffChunk) -> tuple[int, int, bool]:
    """Width, height and whether it has alpha, from a VP8 or VP8L bitstream's header."""
    p = image.payload
    if image.fourcc == b"VP8 " and len(p) >= 10 and p[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", p[6:10])  # the top 2 bits are a scale, not size
        return width & 0x3FFF, height & 0x3FFF, False
    if image.fourcc == b"VP8L" and len(p) >= 5 and p[0] == 0x2F:
        (bits,) = struct.unpack("<I", p[1:5])  # 14 bits width-1, 14 bits height-1, alpha bit
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    raise NotWritable(f"a simple WebP file whose image chunk is {image.fourcc!r}")


def _vp8x(chunks: list[_RiffChunk]) -> bytes:
    """The payload of a VP8X header with the XMP flag: the file's own, or one made for it."""
    first = chunks[0]
    if first.fourcc == b"VP8X":
        if len(first.payload) < 10:
            raise NotWritable("a WebP VP8X header shorter than 10 bytes")
        return bytes([first.payload[0] | VP8X_XMP]) + first.payload[1:]
    width, height, alpha = _canvas(first)
    if not (width and height):
        raise NotWritable("a WebP bitstream that says its picture has no pixels")
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes([VP8X_XMP | (VP8X_ALPHA if alpha else 0), 0, 0, 0]) + size


def write_webp(data: bytes, facts: ImageFacts) -> bytes:
    """``data`` with the request in an ``XMP `` chunk, after the image and EXIF chunks; a simple
    file gets a VP8X header for it; every other chunk unchanged; the RIFF size set to match."""
    chunks, trailing = _webp_chunks(data)
    header = _riff_chunk(b"VP8X", _vp8x(chunks))
    rest = [c for c in chunks if c.fourcc not in (b"VP8X", b"XMP ")]
    at = max((i + 1 for i, c in enumerate(rest) if c.fourcc in WEBP_BEFORE_XMP), default=0)
    xmp = _riff_chunk(b"XMP ", xmp_packet(facts))
    body = b"".join(c.raw for c in rest[:at]) + xmp + b"".join(c.raw for c in rest[at:])
    riff = b"WEBP" + header + body
    return b"RIFF" + struct.pack("<I", len(riff)) + riff + trailing


# -- Any of the three ------------------------------------------------------------------------------

WRITERS: dict[str, Callable[[bytes, ImageFacts], bytes]] = {
    "png": write_png,
    "jpeg": write_jpeg,
    "webp": write_webp,
}
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def kind_of(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` by the file's signature, or None."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def with_metadata(data: bytes, facts: ImageFacts) -> bytes:
    """``data`` with ``facts`` written in, in the way its format keeps them."""
    kind = kind_of(data)
    if kind is None:
        raise NotWritable("not a PNG, JPEG or WebP file")
    return WRITERS[kind](data, facts)


# -- The file's name -------------------------------------------------------------------------------

NAME_MAX = 60


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters with an ellipsis, never between a letter and
    its combining marks (a Thai vowel or tone mark stays with its consonant)."""
    if len(text) <= limit:
        return text
    at = limit
    while at > 0 and unicodedata.category(text[at])[0] == "M":
        at -= 1
    return text[:at].rstrip() + "…"


def slug(text: str, limit: int) -> str:
    """Letters, marks and digits of ``text`` in lower case, every other run made one hyphen,
    at most ``limit`` characters: cut at a hyphen when one is near the end, never in the middle
    of a letter and its marks."""
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else "-" for c in text.lower())
    slug = re.sub("-+", "-", kept).strip("-")
    if len(slug) <= limit:
        return slug
    at = limit
    while at > 0 and unicodedata.category(slug[at])[0] == "M":
        at -= 1
    hyphen = slug.rfind("-", 0, at + 1)
    return slug[: hyphen if hyphen > limit // 2 else at].strip("-")


def download_names(prompt: str, number: int, extension: str, fallback: str) -> tuple[str, str]:
    """The attachment's name made from the prompt (Unicode kept), and its ASCII fallback for
    clients that cannot read the other: ``a-quiet-harbour-2.png``, ``fallback`` when no letter
    or digit is left (a Thai prompt has none in ASCII)."""
    suffix = (f"-{number}" if number > 1 else "") + extension
    name = slug(unicodedata.normalize("NFC", prompt), NAME_MAX) or fallback
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    ascii_name = slug(ascii_text, NAME_MAX) or fallback
    return name + suffix, ascii_name + suffix
