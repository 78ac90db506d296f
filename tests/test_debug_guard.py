"""DEBUG is for a laptop: no process that serves others starts with it on
(imagen_site/debug_guard.py, the settings and gunicorn.conf.py). REVIEW-NOTES.md, "Security, low".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imagen_site.debug_guard import is_loopback_bind, is_loopback_host, why_not_debug
from tests.faults.processes import free_port, port_open
from tests.support import process_env, wait_for

ROOT = Path(__file__).resolve().parents[1]
REFUSED = "DEBUG is on, but"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.8.8", True),
        ("[::1]", True),
        ("studio.localhost", True),
        ("testserver", True),  # Django's test client; benchmarks use it
        ("*", False),
        ("studio.example.com", False),
        (".example.com", False),
        ("10.0.0.5", False),
        ("0.0.0.0", False),  # noqa: S104  a host name to judge, not a bind
        ("", False),
    ],
)
def test_it_knows_which_hosts_are_this_machine(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("0.0.0.0:8000", False),
        (":8000", False),
        ("[::]:8000", False),
        ("unix:/run/imagen.sock", False),  # what a proxy in front connects to
        ("fd://3", False),
    ],
)
def test_it_knows_which_binds_are_this_machine(bind, loopback):
    assert is_loopback_bind(bind) is loopback


def test_it_says_why_debug_may_not_be_on():
    assert why_not_debug(["localhost", "127.0.0.1", "[::1]"], 0) == ""
    assert "studio.example.com" in why_not_debug(["localhost", "studio.example.com"], 0)
    assert "*" in why_not_debug(["*"], 0)
    assert "TRUSTED_PROXY_COUNT" in why_not_debug(["localhost"], 1)


def run(tmp_path: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=process_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


SETUP = ["-c", "import django; django.setup()"]


@pytest.mark.parametrize(
    "env",
    [
        {"ALLOWED_HOSTS": "studio.example.com"},
        {"ALLOWED_HOSTS": "*"},
        {"DEBUG": "true", "ALLOWED_HOSTS": "localhost,studio.example.com"},
        {"TRUSTED_PROXY_COUNT": "1"},
    ],
    ids=["public-host", "any-host", "one-public-host", "behind-a-proxy"],
)
def test_no_process_loads_the_settings_with_debug_on_for_others(tmp_path, env):
    done = run(tmp_path, SETUP, **env)  # what gunicorn, a worker, beat and manage.py all do
    assert done.returncode != 0
    assert REFUSED in done.stderr
    assert "set DEBUG=false" in done.stderr


@pytest.mark.parametrize(
    "env",
    [
        {},  # script/server on a laptop
        {  # .ci/run's production tier
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        },
        {"ALLOWED_HOSTS": "testserver,127.0.0.1,localhost"},  # benchmarks
        {  # production
            "DEBUG": "false",
            "SECRET_KEY": "x" * 60,
            "ALLOWED_HOSTS": "studio.example.com",
            "TRUSTED_PROXY_COUNT": "1",
        },
    ],
    ids=["laptop", "ci-services", "benchmarks", "production"],
)
def test_it_lets_a_laptop_ci_and_production_start(tmp_path, env):
    done = run(tmp_path, SETUP, **env)
    assert done.returncode == 0, done.stderr


def test_a_celery_worker_does_not_start_with_debug_on_for_others(tmp_path):
    argv = ["-m", "celery", "-A", "imagen_site", "worker", "--pool", "solo"]
    done = run(tmp_path, argv, ALLOWED_HOSTS="studio.example.com")
    assert done.returncode != 0
    assert REFUSED in done.stderr


def gunicorn(tmp_path: Path, bind: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "imagen_site.wsgi", "--bind", bind, "--workers", "1"],
        cwd=ROOT,  # where gunicorn finds gunicorn.conf.py, as docs/production.md runs it
        env=process_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_gunicorn_refuses_debug_when_it_would_listen_beyond_loopback(tmp_path):
    process = gunicorn(tmp_path, f"0.0.0.0:{free_port()}")
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "DEBUG is on, and gunicorn would listen on 0.0.0.0" in output


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "localhost"}


def test_gunicorn_serves_on_loopback_with_debug_and_anywhere_without(tmp_path):
    for bind, env in (
        ("127.0.0.1", {}),
        ("0.0.0.0", PRODUCTION),  # noqa: S104  listening for others is the point here
    ):
        port = free_port()
        process = gunicorn(tmp_path, f"{bind}:{port}", **env)
        try:
            wait_for(lambda: process.poll() is not None or port_open(port), timeout=60)  # noqa: B023
            assert process.poll() is None, process.communicate()[0]
        finally:
            process.terminate()
            process.communicate(timeout=30)
