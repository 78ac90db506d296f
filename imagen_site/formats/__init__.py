"""The studio's own date formats, per language (``FORMAT_MODULE_PATH``), beside Django's.

A page names a moment with one of these instead of a fixed format string, so that each language
puts the day, the month and the time in its own order ("Mar 3, 10:42"; "3 มี.ค. 10:42"). Every
language in ``LANGUAGES`` defines every name: a name a language lacks would be read as a format
string (tests/test_formats.py checks).
"""
