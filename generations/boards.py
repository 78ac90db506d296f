"""Boards: named sets of images the whole team shares (issue 11).

What holds, whoever calls these functions:
- Every member sees every board and may add or remove any image the team can see, their own or
  another member's; only a board's maker or an admin renames or deletes it (``may_change``).
- A board name is 1 to 80 characters on one line, unique ignoring case. A bad name raises
  ``BadName`` with the sentence to show beside the field, and nothing changes.
- A generation is on a board at most once (a unique constraint): adding it again changes nothing
  and ``add`` says so. An item is a request (its lead, generations/batches.py): the board shows
  the request's card and its zip holds every image of it.
- A deleted generation drops out of every board's listing and zip; its row may stay.
- The zip is written while it is sent (``archive``): the originals are read through the storage
  API one at a time in chunks, so the memory it takes does not grow with the images' bytes.
"""

from __future__ import annotations

import logging
import posixpath
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.utils.translation import gettext
from zipstream import ZIP_STORED, ZipStream  # type: ignore[import-untyped]

from generations import metadata
from generations.models import Board, BoardItem, Generation, GenerationImage, Status

logger = logging.getLogger(__name__)

PAGE_SIZE = 24
RECENT_TO_ADD = 12
CHUNK_BYTES = 256 * 1024
FILE_STEM_MAX = 60
MISSING_NOTE_NAME = "missing-images.txt"
# Names Windows will not create, whatever the extension: an image called "con.png" would not
# unpack there.
WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in "123456789"
}

Member = AbstractBaseUser | AnonymousUser


class BadName(Exception):
    """A board name that cannot be used; ``message`` is the sentence for the member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- Who may do what -------------------------------------------------------------------------------


def may_change(user: Member, board: Board) -> bool:
    """Renaming and deleting: the board's maker, or an admin."""
    return bool(getattr(user, "is_staff", False)) or (
        board.maker_id is not None and board.maker_id == user.pk
    )


# -- Making, renaming, deleting --------------------------------------------------------------------


def _breaks_the_line(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def clean_name(raw: str) -> str:
    """The name to store, or ``BadName``: surrounding spaces dropped, never empty, at most 80
    characters, no line breaks or other control characters."""
    name = raw.strip()
    if not name:
        raise BadName(gettext("Give the board a name."))
    if len(name) > Board.NAME_MAX_LENGTH:
        raise BadName(
            gettext("A board name can be at most %(limit)d characters; this one has %(count)d.")
            % {"limit": Board.NAME_MAX_LENGTH, "count": len(name)}
        )
    if any(_breaks_the_line(char) for char in name):
        raise BadName(gettext("A board name must be one line, without tabs or control characters."))
    return name


def _name_taken(name: str, *, other_than: int | None = None) -> bool:
    # LOWER() on both sides, as in the unique constraint, so the check agrees with the database.
    same = Board.objects.alias(lower_name=Lower("name")).filter(lower_name=Lower(Value(name)))
    if other_than is not None:
        same = same.exclude(pk=other_than)
    return same.exists()


def _taken(name: str) -> BadName:
    return BadName(
        gettext("There is already a board called “%(name)s”. Choose another name.") % {"name": name}
    )


def make(maker: User, raw_name: str) -> Board:
    name = clean_name(raw_name)
    if _name_taken(name):
        raise _taken(name)
    try:
        with transaction.atomic():
            return Board.objects.create(name=name, maker=maker)
    except IntegrityError:  # another member made it between the check and the insert
        raise _taken(name) from None


def rename(board: Board, raw_name: str) -> None:
    name = clean_name(raw_name)
    if _name_taken(name, other_than=board.pk):
        raise _taken(name)
    try:
        with transaction.atomic():
            Board.objects.filter(pk=board.pk).update(name=name)
    except IntegrityError:  # another board took the name between the check and the update
        raise _taken(name) from None
    board.name = name


def delete(board: Board) -> None:
    """The board and its items go; the generations stay in the studio."""
    Board.objects.filter(pk=board.pk).delete()


# -- Adding and removing ---------------------------------------------------------------------------


def add(board: Board, generation: Generation, added_by: User) -> bool:
    """True when it was added now, False when it was on the board already (nothing changes)."""
    _, created = BoardItem.objects.get_or_create(
        board=board, generation=generation, defaults={"added_by": added_by}
    )
    return created


def remove(board: Board, generation: Generation) -> bool:
    """True when it was on the board; removing what is not there changes nothing."""
    deleted, _ = BoardItem.objects.filter(board=board, generation=generation).delete()
    return deleted > 0


# -- Reading ---------------------------------------------------------------------------------------


def visible_items(board: Board | OuterRef) -> QuerySet[BoardItem]:
    """A board's items whose generation is not deleted."""
    return BoardItem.objects.filter(board=board, generation__deleted_at__isnull=True)


@dataclass
class ItemsPage:
    items: list[BoardItem]
    next_before: int | None


def items(board: Board, *, before: int | None = None) -> ItemsPage:
    """A page of the board, the item added last first; ``before`` is the last item id shown
    (keyset pagination, through the ``board_item_newest`` index)."""
    rows = visible_items(board).select_related("generation__user", "added_by")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows.order_by("-pk")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    return ItemsPage(page[:PAGE_SIZE], page[PAGE_SIZE - 1].pk if more else None)


@dataclass
class Summary:
    board: Board
    image_count: int
    cover_url: str | None


def summaries() -> list[Summary]:
    """Every board for the list page, by name, each with its count and its newest image's
    thumbnail as a cover: one query."""
    cover = (
        visible_items(OuterRef("pk"))
        .filter(generation__status=Status.SUCCEEDED)
        .order_by("-pk")
        .values("generation__thumbnail")[:1]
    )
    rows = (
        Board.objects.select_related("maker")
        .annotate(
            image_count=Count("items", filter=Q(items__generation__deleted_at__isnull=True)),
            cover=Subquery(cover),
        )
        .order_by(Lower("name"))
    )
    return [
        Summary(row, row.image_count, default_storage.url(row.cover) if row.cover else None)
        for row in rows
    ]


def all_boards() -> list[Board]:
    return list(Board.objects.order_by(Lower("name")))


def boards_holding(generation: Generation) -> set[int]:
    """The ids of the boards ``generation`` is on."""
    return set(BoardItem.objects.filter(generation=generation).values_list("board_id", flat=True))


def menu_context(generation: Generation | None = None) -> dict[str, object]:
    """What ``generations/_board_menu.html`` needs: every board by name (one query) and, for one
    generation, the ids of the boards it is on (one more). In a template, the ``board_menu`` tag
    (generations/templatetags/board_menu.py) gathers the same."""
    context: dict[str, object] = {"boards": all_boards()}
    if generation is not None:
        context["on_board_ids"] = boards_holding(generation)
    return context


def recent_to_add(board: Board) -> list[Generation]:
    """The team's newest finished images that are not on the board yet."""
    rows = Generation.objects.filter(deleted_at__isnull=True, status=Status.SUCCEEDED)
    rows = rows.filter(batch_lead__isnull=True)  # a request, by its lead
    rows = rows.exclude(board_items__board=board).select_related("user")
    return list(rows.order_by("-pk")[:RECENT_TO_ADD])


# -- The zip ---------------------------------------------------------------------------------------


def file_stem(text: str) -> str:
    """A file name (without extension) from a prompt, as a download is named
    (:func:`metadata.slug`: Thai keeps its vowel signs), never empty and never a name Windows
    refuses."""
    stem = metadata.slug(unicodedata.normalize("NFC", text), FILE_STEM_MAX)
    if stem in WINDOWS_RESERVED:
        stem += "-image"
    return stem or "image"


@dataclass
class FileNames:
    """Unique names inside one zip: the second "a-fox.png" becomes "a-fox-2.png"."""

    used: set[str] = field(default_factory=lambda: {MISSING_NOTE_NAME})
    last_number: dict[str, int] = field(default_factory=dict)

    def unique(self, prompt: str, extension: str) -> str:
        stem = file_stem(prompt)
        name = f"{stem}{extension}"
        number = self.last_number.get(name, 1)
        while name in self.used:
            number += 1
            name = f"{stem}-{number}{extension}"
        self.last_number[f"{stem}{extension}"] = number
        self.used.add(name)
        return name


def zip_file_name(board: Board) -> str:
    """The download's name: the board's own, with what a file name cannot hold replaced."""
    safe = "".join("-" if c in "/\\" or _breaks_the_line(c) else c for c in board.name)
    return f"{safe}.zip"


def _originals(board: Board) -> Iterator[tuple[str, str]]:
    """(stored name, prompt) of every image of every visible request on the board (an item is
    a request's lead and stands for all of its images): the item added last first, each
    request's images in their order."""
    on_board = visible_items(board).values("generation_id")
    members = Generation.objects.filter(Q(pk__in=on_board) | Q(batch_lead_id__in=on_board))
    request_id = Coalesce(OuterRef("generation__batch_lead_id"), OuterRef("generation_id"))
    item = BoardItem.objects.filter(board=board, generation_id=request_id).values("pk")[:1]
    rows = (
        GenerationImage.objects.filter(generation_id__in=members.values("pk"))
        .annotate(item_id=Subquery(item))
        .order_by("-item_id", "generation__batch_position", "position")
    )
    return rows.values_list("image", "generation__prompt").iterator(chunk_size=500)


def _read(stored_name: str) -> Iterator[bytes]:
    """The stored file in chunks, opened only when the zip reaches it and closed after it."""
    with default_storage.open(stored_name, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


@dataclass
class Archive:
    stream: ZipStream
    size: int
    missing: list[str]

    def chunks(self) -> Iterator[bytes]:
        chunks: Iterator[bytes] = iter(self.stream)
        return chunks


def archive(board: Board) -> Archive:
    """The board's zip, to be written while it is sent. In order:

    1. every original of the board's visible generations (``_originals``), named from its
       prompt, unique in the zip, with the stored file's extension;
    2. each file's size asked of the storage now, so the zip's length is known before its first
       byte (a Content-Length: the browser shows progress, and a cut-off download shows as
       failed). ZIP_STORED, because images are compressed already;
    3. a file the storage cannot find is left out, logged, and named in ``missing-images.txt``
       inside the zip (its heading in the member's language), so the member knows what is not
       there;
    4. each original queued as a generator (``_read``) that opens it only when the zip gets to it.
    """
    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    names = FileNames()
    missing: list[str] = []
    for stored_name, prompt in _originals(board):
        extension = posixpath.splitext(stored_name)[1].lower() or ".png"
        try:
            size = default_storage.size(stored_name)
        except OSError:
            logger.warning("Board %s: stored image %s is missing", board.pk, stored_name)
            missing.append(prompt)
            continue
        stream.add(_read(stored_name), names.unique(prompt, extension), size=size)
    if missing:
        lines = "\n".join(f"- {prompt}" for prompt in missing)
        heading = gettext("These images could not be read from storage and are not in this zip:")
        note = f"{heading}\n{lines}\n"
        stream.add(note.encode(), MISSING_NOTE_NAME)
    return Archive(stream, len(stream), missing)
