"""What the test files share, each said once. Fixtures are in ``tests/conftest.py`` (which takes
its helpers from here); rows put straight into the database are in ``tests/rows.py``.

- The app's test settings: ``TEST_API_KEY``, ``CLOSED_PORT_URL``; the named users: ``make_user``,
  ``signed_in``.
- Waiting for an event instead of sleeping: ``wait_for`` with ``finished`` or
  ``wait_until_status``.
- Generations made the app's way (``new_generation``) and the lifecycle driven step by step, as
  the Celery tasks would drive it, without their countdowns (``make_due``, ``let_lease_run_out``,
  ``run_until_finished``).
- Both sides of the outcome: our ledger (``ledger_entries_of``), stored images and files
  (``images_of``, ``media_files``), and the simulator's record (``remote_tasks_for``).
- Budgets: ``month_name`` (as messages name this month); the form and what it shows:
  ``form_html``, ``is_shown``.
- ``png_bytes``, ``screenshot``, ``console_problems``; ``lightbox_links`` of a page;
  ``settings_refused``.
- A fresh Django process: ``process_env``, ``django_process``, ``settings_of``.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import formats, timezone
from PIL import Image, PngImagePlugin

from generations import catalog, health, lifecycle, tasks
from generations.models import Generation, GenerationImage, LedgerEntry, this_month

TEST_API_KEY = "rvya_sk_test_0123456789"
CLOSED_PORT_URL = "http://127.0.0.1:9"


def make_user(username: str, *, staff: bool = False) -> User:
    return User.objects.create_user(
        username=username, password=f"{username}-password-42", is_staff=staff
    )


def signed_in(user: User) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


# -- Waiting ---------------------------------------------------------------------------------------


def page_text(response: Any) -> str:
    """A response's HTML with each run of whitespace made one space, as a browser shows it: the
    templates break long sentences over lines, and a test reads the sentence."""
    body = response if isinstance(response, str) else response.content.decode()
    return re.sub(r"\s+", " ", body)


def form_html(response: Any) -> str:
    """The generate form of a page, as ``page_text`` reads it."""
    body = page_text(response)
    start = body.index('id="generate-form"')
    return body[start : body.index("</form>", start)]


def is_shown(html: str, marker: str) -> bool:
    """Whether the element carrying the attribute ``marker`` is shown: no ``hidden`` in its tag."""
    tag = re.search(rf"<[^>]*\s{marker}[\s>][^>]*>?", html)
    assert tag is not None, f"{marker} is not on the page"
    return not re.search(r"\shidden[\s>=]", tag.group(0))


def settings_refused(env: dict[str, str]) -> str:
    """What a fresh process that loads the settings with ``env`` says as it fails to start."""
    started = subprocess.run(
        [sys.executable, "-c", "import imagen_site.settings"],
        env={**os.environ, **env},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0, "the settings loaded"
    return started.stderr


def table_row(response: Any, key: str, value: str) -> list[str]:
    """The number cells of the table row marked ``data-<key>="<value>"``, as text a person
    reads (links and line breaks taken out)."""
    body = page_text(response)
    match = re.search(rf'<tr data-{key}="{re.escape(value)}">(.*?)</tr>', body)
    assert match, f"no row with data-{key}={value!r}"
    cells = re.findall(r'<td class="num">(.*?)</td>', match.group(1))
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    """Wait until ``predicate()`` is truthy and return it; fail the test otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up after {timeout} s waiting for {predicate}")


def finished(generation_id: int) -> Generation | None:
    """The generation once it is finished, else None: ``wait_for(lambda: finished(pk))``."""
    generation = Generation.objects.get(pk=generation_id)
    return generation if generation.is_finished else None


def wait_until_status(generation_id: int, *statuses: str, timeout: float = 20.0) -> Generation:
    def reached() -> Generation | None:
        generation = Generation.objects.get(pk=generation_id)
        return generation if generation.status in statuses else None

    found: Generation = wait_for(reached, timeout=timeout)
    return found


# -- Generations, the app's way --------------------------------------------------------------------


def new_generation(
    user: Any, prompt: str = "A quiet harbour at night", **fields: Any
) -> Generation:
    """A saved, queued generation with its credits reserved; nothing is sent yet."""
    model = catalog.find_model(fields.pop("model", "google-imagen4"))
    assert model is not None
    generation, created = lifecycle.create(
        user,
        form_token=uuid.uuid4(),
        model=model,
        prompt=prompt,
        aspect_ratio=fields.pop("aspect_ratio", "1:1"),
        **fields,
    )
    assert created
    return generation


def make_due(generation: Generation | int) -> None:
    """Bring the next check forward to now, as if its countdown had run out."""
    pk = generation if isinstance(generation, int) else generation.pk
    Generation.objects.filter(pk=pk).update(next_check_at=timezone.now())


def let_lease_run_out(generation_id: int) -> None:
    """Move the row's lease and next check into the past, as if its worker's lease (90 s) had
    run out and the reconciler's grace passed; what the reconciler does next is real."""
    past = timezone.now() - lifecycle.RECONCILE_GRACE - timedelta(seconds=1)
    Generation.objects.filter(pk=generation_id).update(next_check_at=past, lease_until=past)


def submit_steps(generation_id: int, count: int) -> list[float]:
    """Drive ``count`` submits that Rivya refuses, as the tasks would, skipping the waits; the
    delays each asked for. Each must ask to be sent again."""
    delays = []
    for _ in range(count):
        step = lifecycle.submit(generation_id)
        assert step is not None
        assert step.step == "submit"
        delays.append(step.delay)
        let_lease_run_out(generation_id)
    return delays


def past_time_budget(generation_id: int) -> None:
    """Move the row's creation back past ``GENERATION_TIME_BUDGET_SECONDS``."""
    budget = timedelta(seconds=settings.GENERATION_TIME_BUDGET_SECONDS + 1)
    Generation.objects.filter(pk=generation_id).update(created_at=timezone.now() - budget)


def run_until_finished(
    generation: Generation | int,
    timeout: float = 15.0,
    steps: list[lifecycle.Next] | None = None,
    first: lifecycle.Next | None = None,
) -> Generation:
    """Submit (or start from ``first``, a step a test already got) and poll until finished.
    Every step the lifecycle asked for is appended to ``steps``."""
    pk = generation if isinstance(generation, int) else generation.pk
    seen = steps if steps is not None else []
    step = first or lifecycle.submit(pk)

    def advance() -> bool:
        nonlocal step
        if step is None:
            return Generation.objects.get(pk=pk).is_finished
        seen.append(step)
        make_due(pk)
        step = (lifecycle.submit if step.step == "submit" else lifecycle.poll)(pk)
        return False

    wait_for(advance, timeout=timeout, every=0.05)
    return Generation.objects.get(pk=pk)


# -- Both sides of the outcome ---------------------------------------------------------------------


def month_name() -> str:
    """This month's name as the budget line and the refusals say it ("November")."""
    return formats.date_format(this_month(), "F")


def ledger_entries_of(generation: Generation) -> list[tuple[str, int]]:
    """Our side of the money: (kind, credits) of each ledger entry, the reservation first. The
    database allows one entry per phase, and each kind belongs to one phase."""
    rows = LedgerEntry.objects.filter(generation_id=generation.pk).order_by("phase")
    return list(rows.values_list("kind", "credits"))


RESERVED_AND_CHARGED = [("reserve", 8), ("charge", 8)]
RESERVED_AND_RELEASED = [("reserve", 8), ("release", 8)]


def images_of(generation: Generation) -> int:
    return GenerationImage.objects.filter(generation_id=generation.pk).count()


def media_files(folder: str = "") -> list[str]:
    """Every stored image file under ``folder``, in the storage in use (the folder or the
    bucket), by its name there."""

    def walk(path: str) -> list[str]:
        try:
            folders, files = default_storage.listdir(path)
        except FileNotFoundError:  # a local folder nothing was saved in yet
            return []
        found = [posixpath.join(path, name) for name in files]
        return found + [f for sub in folders for f in walk(posixpath.join(path, sub))]

    return sorted(walk(folder))


def files_on_disk() -> list[str]:
    """Every file under the media root on this machine's disk, relative to it."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def remote_tasks_for(sim: Any, generation: Generation) -> list[Any]:
    """The simulator's side: every task it created under this generation's Idempotency-Key."""
    return list(sim.state.tasks_by_key(str(generation.uuid)))


# -- Pictures --------------------------------------------------------------------------------------


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    """A real PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of a browser page for a person to look at (test-artifacts/ is gitignored)."""
    artifacts = Path(settings.BASE_DIR) / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


CSP_TO_CONSOLE = """document.addEventListener("securitypolicyviolation",
    (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));"""


LIGHTBOX_LINK = re.compile(r'<a href="([^"]+)"\s+data-lightbox="([^"]+)"([^>]*)>')


def lightbox_links(body: str) -> list[tuple[str, str, str]]:
    """The image links a page opens in the lightbox: (href, full image URL, other attributes)."""
    return LIGHTBOX_LINK.findall(body)


def console_problems(page: Any) -> list[str]:
    """What goes wrong on a browser page from now on: console errors, uncaught exceptions and
    Content-Security-Policy violations (said as console errors), in a list that fills as it goes.
    Call it before the page is opened, so the violation listener is there from the start."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script(CSP_TO_CONSOLE)
    return problems


# -- What workers keep of Rivya -------------------------------------------------------------------


def beat_refresh() -> None:
    """What beat does every minute: ask Rivya for the model list and the balance, and keep them
    (a page only ever reads what was kept)."""
    tasks.refresh_models()
    tasks.refresh_balance()


def rivya_failing_since(seconds: float, *, last_success: bool = True, **failure: str) -> None:
    """Notes as the client leaves them when Rivya last worked ``seconds`` ago and has failed
    since (the last failure a second ago): ``failure`` gives its code, message, request_id."""
    now = timezone.now()
    if last_success:
        health.keep(health.LAST_SUCCESS, {}, at=now - timedelta(seconds=seconds))
    began = (now - timedelta(seconds=seconds - 1)).isoformat()
    note = {"code": "timeout", "message": "", "request_id": "", **failure, "since": began}
    health.keep(health.LAST_FAILURE, note, at=now - timedelta(seconds=1))


def kept_balance() -> health.Kept:
    found = health.balance()
    assert found is not None, "no balance is kept"
    return found


def last_failure() -> health.Failure:
    found = health.health().last_failure
    assert found is not None, "no failure is noted"
    return found


def opened(data: bytes) -> Image.Image:
    """An image file's bytes, decoded (Pillow reads lazily; this reads it all)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_text(data: bytes) -> dict[str, str]:
    """The text chunks Pillow reads from a PNG."""
    image = opened(data)
    assert isinstance(image, PngImagePlugin.PngImageFile)
    return dict(image.text)


def process_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """A bare environment for a child process that starts Django: no variable of this test
    run leaks into it but PATH, and its data folder is under ``tmp_path``."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "imagen_site.settings",
        "IMAGEN_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        **env,
    }


def django_process(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Python ``code`` run after ``django.setup()`` in a fresh process started with ``env``."""
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=Path(settings.BASE_DIR),
        env=process_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(tmp_path: Path, names: list[str], **env: str) -> dict[str, Any]:
    """The named settings as a fresh process started with ``env`` reads them."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    done = django_process(tmp_path, code, **env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
