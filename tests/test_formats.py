"""The studio's own date formats (imagen_site/formats): each language says a moment in its own
order, and every language has every name (one it lacked would be read as a format string)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.conf import settings
from django.utils import formats, translation

from imagen_site.formats.en import formats as english

NAMES = [name for name in vars(english) if name.endswith("_FORMAT")]
MOMENT = datetime(2026, 3, 3, 10, 42)


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_every_language_has_every_name(language):
    with translation.override(language):
        for name in NAMES:
            assert formats.get_format(name) != name, f"{language} lacks {name}"


def test_english_puts_the_month_first():
    with translation.override("en"):
        assert formats.date_format(MOMENT, "MONTH_DAY_TIME_FORMAT") == "Mar 3, 10:42"
        assert formats.date_format(date(2026, 3, 3), "WEEKDAY_MONTH_DAY_FORMAT") == "Tue Mar 3"


def test_thai_puts_the_day_first_in_thai_words():
    with translation.override("th"):
        assert formats.date_format(MOMENT, "MONTH_DAY_TIME_FORMAT") == "3 มี.ค. 10:42"
        assert formats.date_format(date(2026, 3, 3), "SHORT_MONTH_DAY_FORMAT") == "3 มี.ค."
        assert formats.date_format(date(2026, 3, 3), "WEEKDAY_MONTH_DAY_FORMAT") == "อ. 3 มี.ค."
