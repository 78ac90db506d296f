# The history's search index: FTS5 (trigram) on SQLite, pg_trgm + GIN on PostgreSQL. The SQL
# lives in generations/search_index.py, beside the query that must match it. SearchEntry is a
# view of SQLite's index table, which Django does not manage.

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

import generations.search_index
from generations import search_index


def forward(apps: Any, schema_editor: Any) -> None:
    search_index.install(schema_editor.connection)


def backward(apps: Any, schema_editor: Any) -> None:
    search_index.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0012_favorite"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                (
                    "generation",
                    models.OneToOneField(
                        db_column="rowid",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="search_entry",
                        serialize=False,
                        to="generations.generation",
                    ),
                ),
                (
                    "index",
                    generations.search_index.MatchColumn(db_column="generation_search"),
                ),
            ],
            options={
                "db_table": "generation_search",
                "managed": False,
            },
        ),
    ]
