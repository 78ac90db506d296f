from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Generations"

    def ready(self) -> None:
        from generations import search_index

        # SQLite drops a table's triggers when Django rebuilds it to alter it.
        post_migrate.connect(search_index.ensure_triggers, sender=self)
