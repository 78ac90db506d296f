from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = _("Generations")

    def ready(self) -> None:
        from generations import search_index

        # SQLite drops a table's triggers when Django rebuilds it to alter it.
        post_migrate.connect(search_index.ensure_triggers, sender=self)
