"""The index behind the history's search, and the one query shape that uses it.

Invariant: every visible generation's prompt and negative prompt can be found by any substring
of three or more characters through an index, in any language (Thai has no spaces between
words, so a word is a substring, not a token), without reading every row.

- SQLite (3.34 or later): an FTS5 table with the trigram tokenizer, an external-content index
  of ``generations_generation`` kept in step by three triggers. Django alters a table on SQLite
  by building a new one and dropping the old, which drops its triggers too: after every
  ``migrate``, :func:`ensure_triggers` puts back any that are missing and rebuilds the index.
- PostgreSQL: ``pg_trgm`` and a GIN trigram index on ``prompt || ' ' || negative_prompt``;
  :func:`words_match` compares that same expression with ILIKE, so the planner can use it.

A word shorter than three characters has no trigram: this module never sees one
(``generations.gallery`` matches those among the rows the longer words found).
"""

from __future__ import annotations

import enum
import sqlite3
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper as Connection
from django.db.models import BooleanField, Lookup, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLCompiler

TRIGRAM = 3  # the shortest word a trigram index can find
SQLITE_TRIGRAM = (3, 34, 0)  # the first SQLite with FTS5's trigram tokenizer
FTS_TABLE = "generation_search"

# Plain literals, no interpolation: nothing a member types reaches these strings.
SQLITE_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS generation_search USING fts5(
    prompt, negative_prompt,
    content='generations_generation', content_rowid='id', tokenize='trigram'
)"""
# The external-content recipe from the FTS5 documentation: the index is told the old values
# on a delete, and the new ones on an insert; an update is both, and only when the text changed
# (Django's save() writes every column). The old values must be exactly what was indexed, or
# FTS5 corrupts its index: all three triggers are there, or none and a rebuild follows.
SQLITE_TRIGGERS = {
    "generation_search_insert": """
CREATE TRIGGER IF NOT EXISTS generation_search_insert
AFTER INSERT ON generations_generation BEGIN
    INSERT INTO generation_search(rowid, prompt, negative_prompt)
    VALUES (new.id, new.prompt, new.negative_prompt);
END""",
    "generation_search_delete": """
CREATE TRIGGER IF NOT EXISTS generation_search_delete
AFTER DELETE ON generations_generation BEGIN
    INSERT INTO generation_search(generation_search, rowid, prompt, negative_prompt)
    VALUES ('delete', old.id, old.prompt, old.negative_prompt);
END""",
    "generation_search_update": """
CREATE TRIGGER IF NOT EXISTS generation_search_update
AFTER UPDATE OF prompt, negative_prompt ON generations_generation
WHEN old.prompt IS NOT new.prompt OR old.negative_prompt IS NOT new.negative_prompt BEGIN
    INSERT INTO generation_search(generation_search, rowid, prompt, negative_prompt)
    VALUES ('delete', old.id, old.prompt, old.negative_prompt);
    INSERT INTO generation_search(rowid, prompt, negative_prompt)
    VALUES (new.id, new.prompt, new.negative_prompt);
END""",
}
SQLITE_REBUILD = "INSERT INTO generation_search(generation_search) VALUES ('rebuild')"
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS generation_search_insert",
    "DROP TRIGGER IF EXISTS generation_search_delete",
    "DROP TRIGGER IF EXISTS generation_search_update",
    "DROP TABLE IF EXISTS generation_search",
]

PG_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS generation_search_trgm ON generations_generation"
    " USING gin ((prompt || ' ' || negative_prompt) gin_trgm_ops)",
]
# The indexed expression, column for column, so that the planner recognises it.
PG_ILIKE = (
    '("generations_generation"."prompt" || \' \' || '
    '"generations_generation"."negative_prompt") ILIKE %s'
)
PG_DROP = "DROP INDEX IF EXISTS generation_search_trgm"


class SearchIndexUnavailable(RuntimeError):
    """This database cannot hold the search index."""


def install(connection: Connection) -> None:
    """Make the index (a migration's forward step). Other databases get none: the search
    still answers there, by reading rows."""
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < SQLITE_TRIGRAM:
        raise SearchIndexUnavailable(
            f"The history's search needs SQLite 3.34 or later (its trigram tokenizer); this "
            f"Python has SQLite {sqlite3.sqlite_version}. Use a newer Python, or PostgreSQL."
        )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in [SQLITE_TABLE, *SQLITE_TRIGGERS.values(), SQLITE_REBUILD]:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            for statement in PG_CREATE:
                cursor.execute(statement)


def uninstall(connection: Connection) -> None:
    """Drop the index (a migration's backward step). pg_trgm stays: others may use it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_DROP:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            cursor.execute(PG_DROP)


def ensure_triggers(using: str = "default", **kwargs: Any) -> bool:
    """After a migrate (``post_migrate``): on SQLite, if the index exists but a table rebuild
    dropped its triggers, put them back and rebuild the index from the table, so rows written
    since are found too. True when it had to."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE %s",
            [f"{FTS_TABLE}%"],
        )
        present = {row[0] for row in cursor.fetchall()}
        if FTS_TABLE not in present or set(SQLITE_TRIGGERS) <= present:
            return False
        for statement in [*SQLITE_TRIGGERS.values(), SQLITE_REBUILD]:
            cursor.execute(statement)
    return True


def fts_phrase(word: str) -> str:
    """A word as an FTS5 string: inside double quotes nothing is an operator (AND, OR, NEAR,
    ``*``, ``^``, column filters); a double quote inside is written twice."""
    return '"' + word.replace('"', '""') + '"'


def like_pattern(word: str) -> str:
    """``%word%`` with LIKE's own wildcards and escape character taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class MatchColumn(TextField):  # type: ignore[type-arg]
    """FTS5's hidden column named after its table: the left side of ``MATCH``."""


@MatchColumn.register_lookup
class Match(Lookup):
    lookup_name = "match"

    def as_sql(
        self, compiler: SQLCompiler, connection: Connection
    ) -> tuple[str, tuple[str | int, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


class Plan(enum.Enum):
    """How SQLite's index meets the other filters. SQLite cannot weigh a full-text index
    against the others, so the caller says which it expects; PostgreSQL's planner chooses."""

    # Read the matches newest first and stop after a page: as fast as the other filters are
    # common among the matches; a filter that matches none of them reads every match once.
    INDEX_ORDER = "index order"
    # Read each row the other filters select, newest first, for the words (no index): for a
    # few thousand rows at most (about a microsecond a row; looking a row up in the index
    # costs about a millisecond).
    FILTER_ORDER = "filter order"


def words_match(words: list[str], vendor: str) -> Q:
    """Rows whose prompt or negative prompt holds every word (each 3+ characters), case
    folded, through the index of this database. On SQLite the rows come joined to the index
    (``search_entry``): order the page by its row id (``Plan.INDEX_ORDER``)."""
    if not words:
        return Q()
    if vendor == "sqlite":
        return Q(search_entry__index__match=" AND ".join(fts_phrase(w) for w in words))
    if vendor == "postgresql":
        return Q(
            *[
                RawSQL(PG_ILIKE, [like_pattern(w)], output_field=BooleanField())  # noqa: S611
                for w in words
            ]
        )
    # No index on this database: the same answer by reading rows.
    return rows_holding(words)


def rows_holding(words: list[str]) -> Q:
    """Rows whose prompt or negative prompt holds every word, read row by row (no index).
    SQLite's LIKE folds the case of ASCII letters only (FTS5 folds every script's); Thai,
    which the studio is written in besides English, has no case."""
    return Q(*[Q(prompt__icontains=w) | Q(negative_prompt__icontains=w) for w in words])
