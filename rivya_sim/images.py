"""Result pictures: pleasant abstract PNGs, plus the hostile payloads of the result modes.

A picture is a pure function of (prompt, seed, model, aspect ratio, variant): the colours, the
gradient and the shapes come from a SHA-256 of those, and the start of the prompt is written on
it. It is drawn at a quarter of its size, scaled up (which also softens it) and captioned at full
size, so one costs a few tens of milliseconds; ``ImageCache`` keeps the most recent ones.

Assumptions where the brief is silent:

- The decompression bomb is written by hand (PNG chunks + zlib) rather than with Pillow, because
  Pillow would need the whole 30000x30000 canvas in memory (900 MB) to encode it; the file is a
  valid 1-bit greyscale PNG of about 110 kB, built once per process.
- The "huge" and "lie_length" bodies are the PNG signature followed by a repeated block of
  pseudo-random bytes, generated lazily.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import random
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1408, 768),
    "9:16": (768, 1408),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "3:2": (1536, 1024),
    "2:3": (1024, 1536),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BOMB_SIDE = 30_000
CAPTION_CHARS = 60
# The Thai letters of Noto Sans Thai's Thai subset, the face the studio serves for Thai.
THAI_FONT = Path(__file__).parent / "fonts" / "noto-sans-thai-thai-400-normal.woff2"
THAI_LETTERS = frozenset(chr(code) for code in range(0x0E01, 0x0E5C))
_SCALE = 4
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class ArtSpec:
    """What a picture depends on."""

    prompt: str
    seed: str
    model: str
    aspect: str
    variant: int = 1

    def digest(self) -> bytes:
        text = "\x1f".join((self.prompt, self.seed, self.model, self.aspect, str(self.variant)))
        return hashlib.sha256(text.encode()).digest()


def render_png(spec: ArtSpec) -> bytes:
    """The PNG bytes of the picture for ``spec``."""
    rng = random.Random(spec.digest())
    width, height = SIZES.get(spec.aspect, SIZES["1:1"])
    palette = _palette(rng)
    small = _background(rng, (width // _SCALE, height // _SCALE), palette)
    _draw_shapes(rng, small, palette)
    picture = small.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    _draw_caption(picture, spec)
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _palette(rng: random.Random) -> list[RGB]:
    """A dark and a light background colour, then four shape colours around a random hue."""
    hue = rng.random()
    specs = (
        (0.0, rng.uniform(0.14, 0.26)),
        (rng.uniform(0.08, 0.2), rng.uniform(0.5, 0.66)),
        (rng.uniform(0.05, 0.12), rng.uniform(0.5, 0.72)),
        (-rng.uniform(0.05, 0.12), rng.uniform(0.45, 0.7)),
        (0.5, rng.uniform(0.55, 0.75)),
        (rng.uniform(0.3, 0.4), rng.uniform(0.6, 0.8)),
    )
    colours = []
    for offset, lightness in specs:
        saturation = rng.uniform(0.35, 0.75)
        red, green, blue = colorsys.hls_to_rgb((hue + offset) % 1.0, lightness, saturation)
        colours.append((int(red * 255), int(green * 255), int(blue * 255)))
    return colours


def _background(rng: random.Random, size: tuple[int, int], palette: list[RGB]) -> Image.Image:
    """A linear gradient between the two background colours at a random angle, vignetted."""
    mask = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.Resampling.BICUBIC)
    mask = mask.crop((48, 48, 208, 208)).resize(size, Image.Resampling.BILINEAR)
    start = Image.new("RGBA", size, (*palette[0], 255))
    end = Image.new("RGBA", size, (*palette[1], 255))
    canvas = Image.composite(end, start, mask)
    shade = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    shade = shade.point(lambda value: max(0, value - 100) // 2)
    return Image.composite(Image.new("RGBA", size, (0, 0, 0, 255)), canvas, shade)


def _draw_shapes(rng: random.Random, canvas: Image.Image, palette: list[RGB]) -> None:
    """Translucent discs, bands and triangles at several depths of blur, then fine rings."""
    width, height = canvas.size
    for _ in range(rng.randint(5, 8)):
        layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        colour = (*rng.choice(palette[2:]), rng.randint(80, 170))
        _random_shape(rng, ImageDraw.Draw(layer), width, height, colour)
        canvas.alpha_composite(layer.filter(ImageFilter.GaussianBlur(rng.choice((1, 2, 5, 10)))))
    rings = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(rings)
    for _ in range(rng.randint(1, 3)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, width / 3)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(*rng.choice(palette[2:]), 210))
    canvas.alpha_composite(rings.filter(ImageFilter.GaussianBlur(0.6)))


def _random_shape(
    rng: random.Random, draw: ImageDraw.ImageDraw, width: int, height: int, fill: tuple[int, ...]
) -> None:
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    radius = rng.uniform(min(width, height) * 0.08, max(width, height) * 0.45)
    kind = rng.choice(("disc", "disc", "band", "triangle"))
    if kind == "disc":
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    elif kind == "band":
        thickness = rng.uniform(4, height / 5)
        draw.rectangle((0, y, width, y + thickness), fill=fill)
    else:
        points = [(rng.uniform(0, width), rng.uniform(0, height)) for _ in range(3)]
        draw.polygon(points, fill=fill)


def _draw_caption(picture: Image.Image, spec: ArtSpec) -> None:
    """The start of the prompt in a translucent band along the bottom."""
    width, height = picture.size
    text = " ".join(spec.prompt.split())
    text = text if len(text) <= CAPTION_CHARS else text[: CAPTION_CHARS - 1] + "…"
    size = max(16, width // 44)
    band = Image.new("RGBA", (width, size * 3), (10, 10, 20, 140))
    picture.paste(band, (0, height - band.height), band)
    draw = ImageDraw.Draw(picture)
    x, baseline = float(size), height - 1.2 * size  # the two faces share a baseline
    for run, thai in script_runs(text):
        font = _thai_font(size) if thai else _font(size)
        draw.text((x, baseline), run, font=font, fill="white", anchor="ls")
        x += draw.textlength(run, font=font)


def script_runs(text: str) -> Iterator[tuple[str, bool]]:
    """``text`` cut where it changes between Thai and other letters: (run, is Thai). A space
    stays with the run before it (the Thai face has no Latin letters, Pillow's own no Thai)."""
    run, thai = "", False
    for char in text:
        is_thai = char in THAI_LETTERS if not char.isspace() else thai
        if run and is_thai != thai:
            yield run, thai
            run = ""
        run, thai = run + char, is_thai
    if run:
        yield run, thai


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
        raise RuntimeError("Pillow needs FreeType to caption the pictures")
    return font


@functools.cache
def _thai_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans Thai, the studio's Thai face (fonts/OFL.txt); FreeType reads its woff2."""
    return ImageFont.truetype(str(THAI_FONT), size=size)


class ImageCache:
    """A small thread-safe LRU of rendered PNGs, each rendered once while it stays cached."""

    def __init__(self, capacity: int = 128) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[ArtSpec, bytes] = OrderedDict()
        self._rendering: dict[ArtSpec, threading.Lock] = {}

    def get(self, spec: ArtSpec) -> bytes:
        with self._lock:
            if spec in self._items:
                self._items.move_to_end(spec)
                return self._items[spec]
            render_lock = self._rendering.setdefault(spec, threading.Lock())
        with render_lock:  # concurrent requests for one picture render it once
            return self._render_once(spec)

    def _render_once(self, spec: ArtSpec) -> bytes:
        with self._lock:
            if spec in self._items:
                return self._items[spec]
        data = render_png(spec)
        with self._lock:
            self._items[spec] = data
            self._rendering.pop(spec, None)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return data


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@functools.cache
def bomb_png() -> bytes:
    """A valid 1-bit PNG of 30000x30000 black pixels, about 110 kB on the wire."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + BOMB_SIDE // 8)  # filter byte + packed bits (30000 is a multiple of 8)
    compressor = zlib.compressobj(9)
    rows_per_block = 1000
    block = row * rows_per_block
    parts = [compressor.compress(block) for _ in range(BOMB_SIDE // rows_per_block)]
    parts.append(compressor.flush())
    idat = b"".join(parts)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@functools.cache
def _junk_block() -> bytes:
    return random.Random(7).randbytes(64 * 1024)


def junk_stream(total: int, prefix: bytes = PNG_SIGNATURE) -> Iterator[bytes]:
    """``total`` bytes: ``prefix`` then repeated pseudo-random blocks."""
    yield prefix
    remaining = total - len(prefix)
    block = _junk_block()
    while remaining > 0:
        piece = block if remaining >= len(block) else block[:remaining]
        remaining -= len(piece)
        yield piece


def svg_document(prompt: str) -> bytes:
    """An SVG picture (with a script element, as a hostile SVG would have)."""
    title = prompt[:CAPTION_CHARS].replace("&", "&amp;").replace("<", "&lt;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024">'
        f"<title>{title}</title>"
        '<rect width="1024" height="1024" fill="#345"/>'
        '<circle cx="512" cy="512" r="300" fill="#e96"/>'
        "<script>alert('svg')</script></svg>\n"
    ).encode()


HTML_RESULT = b"<!doctype html><html><body><h1>Not an image</h1></body></html>\n"
