"""The translation catalogues, compiled without system tools.

``locale/<language>/LC_MESSAGES/*.po`` are the source (written by ``makemessages``, which needs
GNU gettext's xgettext, and by translators); the ``.mo`` files Django reads are build products,
made here with polib, so a newcomer without gettext's msgfmt still gets every language.

Invariants:
- A catalogue that cannot be read, or whose translation names a placeholder its English does not
  have (which would fail the page that shows it), is refused with the file and the entry: no
  ``.mo`` is written for it, and the one before it stays.
- A ``.mo`` is written under a temporary name and renamed into place, so a process that reads it
  meanwhile (a test worker, a running server) sees the old file or the new one, never half.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polib
from django.conf import settings

# A keyword and a quoted string, or a quoted string that goes on the one before (comments aside).
PO_LINE = re.compile(r'(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"(?:[^"\\]|\\.)*"')
# %(name)s, %s, %d …; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")


class CatalogueError(Exception):
    """A catalogue that cannot be compiled; the message says which file and what is wrong."""


def po_files(roots: Iterable[Path | str] | None = None) -> list[Path]:
    """Every ``.po`` under the locale folders (``settings.LOCALE_PATHS`` by default)."""
    folders = settings.LOCALE_PATHS if roots is None else roots
    return sorted(po for root in folders for po in Path(root).glob("*/LC_MESSAGES/*.po"))


def _placeholders(text: str) -> tuple[set[str], int]:
    """The named placeholders in ``text``, and how many unnamed ones."""
    found = PLACEHOLDER.findall(text.replace("%%", ""))
    return {name for name in found if name}, sum(1 for name in found if not name)


def mismatches(catalogue: polib.POFile) -> list[str]:
    """The entries whose translation would fail at run time: a named placeholder the English
    does not have, or a different number of unnamed ones."""
    problems = []
    for entry in catalogue.translated_entries():
        english = [_placeholders(text) for text in (entry.msgid, entry.msgid_plural) if text]
        names = set().union(*(found for found, _ in english))
        unnamed = {count for _, count in english}  # "%s" % value fails if the count differs
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            their_names, their_unnamed = _placeholders(translation)
            if their_names - names or their_unnamed not in unnamed:
                problems.append(f"line {entry.linenum}: {entry.msgid!r} -> {translation!r}")
    return problems


def read(po: Path) -> polib.POFile:
    """The catalogue in ``po``. Each line is checked first: polib reads an unclosed quote or a
    bare word after a keyword without a word of complaint (and cuts the text), msgfmt does not."""
    text = po.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#") and not PO_LINE.fullmatch(line.strip()):
            raise CatalogueError(f"{po}, line {number}: not a line of a .po file: {line!r}")
    try:
        return polib.pofile(text, check_for_duplicates=True)
    except (OSError, ValueError) as error:  # polib says a syntax error with OSError
        raise CatalogueError(f"{po}: {error}") from None


def compile_catalogue(po: Path) -> Path:
    """Write ``po``'s ``.mo`` beside it (fuzzy and untranslated entries left out, so those
    strings stay English) and return its path."""
    catalogue = read(po)
    if problems := mismatches(catalogue):
        raise CatalogueError(f"{po}: placeholders differ from the English:\n" + "\n".join(problems))
    mo = po.with_suffix(".mo")
    handle, temporary = tempfile.mkstemp(dir=po.parent, prefix=f".{mo.name}.")
    os.close(handle)
    try:
        catalogue.save_as_mofile(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, mo)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return mo


def compile_all(roots: Iterable[Path | str] | None = None) -> list[Path]:
    return [compile_catalogue(po) for po in po_files(roots)]
