"""Browser fixtures: Debian's Chromium driven by Playwright, against pytest-django's live server.

Playwright's own browser download cannot work here, so the system Chromium is launched with a
persistent profile (Playwright refuses a ``--user-data-dir`` argument). Without Chromium the
tests are skipped on a workstation and fail on CI, where a skipped browser suite would hide a
broken page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tests.support import signed_in

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000

NewPage = Callable[..., Any]


INSTALL_HINT = "Chromium is not installed: `apt-get install chromium` (Debian) gets it."


def chromium_or_skip() -> str | None:
    """Chromium's path. Without it a workstation skips; CI gets None, and the test fails when
    it asks for a page (a fixture error would read as a broken fixture, not a failed test)."""
    path = shutil.which("chromium")
    if path is None and os.environ.get("CI") != "true":
        pytest.skip(INSTALL_HINT)
    return path


@pytest.fixture
def new_page(
    live_server: Any, transactional_db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[NewPage]:
    """``new_page(user=None, javascript=True, **options)``: a page in a fresh Chromium profile,
    signed in as ``user`` when one is given (by session cookie, which is what signing in leaves
    behind); ``options`` go to Playwright's context (``timezone_id``, ``locale``)."""
    executable = chromium_or_skip()
    # Playwright's sync API keeps an event loop on this thread; Django would then refuse the
    # ORM calls the test itself makes, although nothing here is asynchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    contexts: list[Any] = []
    with sync_playwright() as playwright:

        def make(user: User | None = None, *, javascript: bool = True, **options: Any) -> Any:
            if executable is None:
                pytest.fail(f"{INSTALL_HINT} CI must run the browser tests, so this fails.")
            context = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(dir=tmp_path),
                executable_path=executable,
                args=CHROMIUM_ARGS,
                java_script_enabled=javascript,
                viewport={"width": 1200, "height": 900},
                **options,  # e.g. timezone_id, locale
            )
            contexts.append(context)
            context.set_default_timeout(TIMEOUT_MS)
            if user is not None:
                name, value = settings.SESSION_COOKIE_NAME, session_key(user)
                context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
            return context.pages[0] if context.pages else context.new_page()

        yield make
        for context in contexts:
            context.close()


def session_key(user: User) -> str:
    """A signed-in session for ``user``, as the sign-in form would leave it."""
    return signed_in(user).cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """One real Celery worker (threads, in this process) for the whole module: stopping one
    takes seconds, more than a browser test should spend. Work left over from a test finds its
    rows gone after the flush and returns quietly, as tasks do."""
    from celery.contrib.testing.worker import start_worker

    from imagen_site.celery import app

    # Unblocked for the module's life: the worker's threads reach the database outside any one
    # test's fixtures (starting up, or finishing a task as a test ends).
    with (
        django_db_blocker.unblock(),
        start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"
        ) as worker,
    ):
        yield worker
