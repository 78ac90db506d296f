"""Compile the translation catalogues (.po to .mo) with no system gettext tools; see
``generations/catalogues.py``. script/bootstrap runs it."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from generations import catalogues


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into the .mo files Django reads (no msgfmt needed)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            compiled = catalogues.compile_all()
        except catalogues.CatalogueError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"] >= 1:
            for mo in compiled:
                self.stdout.write(f"Compiled {mo}")
