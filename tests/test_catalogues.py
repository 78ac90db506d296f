"""The translation catalogues: compiled without gettext's tools, complete, and refused when a
translation would break the page that shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from generations import catalogues

THAI = catalogues.po_files()[0]
HEADER = r"""msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=1; plural=0;\n"

"""


def write_po(folder: Path, entries: str) -> Path:
    po = folder / "th" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(HEADER + entries, encoding="utf-8")
    return po


def test_there_is_a_thai_catalogue():
    assert THAI.parts[-3:] == ("th", "LC_MESSAGES", "django.po")


def test_the_command_compiles_every_catalogue(capsys):
    call_command("compile_catalogues")
    assert f"Compiled {THAI.with_suffix('.mo')}" in capsys.readouterr().out
    assert THAI.with_suffix(".mo").stat().st_size > 0


def test_a_known_string_reads_in_thai():
    with translation.override("th"):
        assert translation.gettext("Sign out") == "ออกจากระบบ"
        assert (
            translation.ngettext("%(minutes)d minute", "%(minutes)d minutes", 5)
            == "%(minutes)d นาที"
        )


@pytest.mark.parametrize("po", catalogues.po_files(), ids=lambda po: po.parts[-3])
def test_every_entry_is_translated_and_none_is_fuzzy_or_obsolete(po):
    catalogue = catalogues.read(po)
    assert catalogue.percent_translated() == 100
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    # makemessages marks a msgid that left the code obsolete: drop it from the catalogue.
    assert [e.msgid for e in catalogue.obsolete_entries()] == []


def test_it_refuses_a_catalogue_with_a_syntax_error(tmp_path):
    po = write_po(tmp_path, 'msgid "Sign out"\nmsgstr "ออกจากระบบ\n')
    with pytest.raises(catalogues.CatalogueError, match=r"django\.po, line 7"):
        catalogues.compile_all([tmp_path])
    assert not po.with_suffix(".mo").exists()


@pytest.mark.parametrize(
    "entry",
    [
        'msgid "Wait %(wait)s."\nmsgstr "รอ %(wiat)s"\n',
        'msgid "Languages: %s."\nmsgstr "ภาษา"\n',
        'msgid "%(n)d minute"\nmsgid_plural "%(n)d minutes"\nmsgstr[0] "%(count)d นาที"\n',
    ],
)
def test_it_refuses_a_translation_whose_placeholders_would_fail_the_page(tmp_path, entry):
    po = write_po(tmp_path, entry)
    with pytest.raises(catalogues.CatalogueError, match="placeholders"):
        catalogues.compile_all([tmp_path])
    assert not po.with_suffix(".mo").exists()


def test_a_translation_may_leave_a_named_placeholder_out(tmp_path):
    write_po(tmp_path, 'msgid "%(n)d minute"\nmsgid_plural "%(n)d minutes"\nmsgstr[0] "ไม่กี่นาที"\n')
    assert [mo.name for mo in catalogues.compile_all([tmp_path])] == ["django.mo"]


def test_the_command_says_what_is_wrong(tmp_path, settings):
    write_po(tmp_path, 'msgid "Sign out"\nmsgstr "ออกจากระบบ\n')
    settings.LOCALE_PATHS = [tmp_path]
    with pytest.raises(CommandError, match=r"django\.po, line 7"):
        call_command("compile_catalogues")
