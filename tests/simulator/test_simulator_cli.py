"""``python -m rivya_sim``: starts, answers, and exits cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simulator.support import get, post

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    command = [
        sys.executable, "-m", "rivya_sim", "--port", "0", "--api-key", "rvya_sk_cli",
        "--delay", "0.1", "--credits", "50", "--create-status", "202",
    ]  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    yield child
    if child.poll() is None:
        child.kill()
        child.wait()


def base_url_of(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    match = re.fullmatch(r"Rivya simulator on (http://127\.0\.0\.1:\d+)\n", line)
    assert match, line
    return match[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_it_runs_from_the_command_line(process, stop_signal):
    base_url = base_url_of(process)
    headers = {"Authorization": "Bearer rvya_sk_cli"}
    assert get(f"{base_url}/api/v1/credits", headers=headers).json() == {"current_credits": 50}
    body = {"model": "z-image", "prompt": "p"}
    created = post(f"{base_url}/api/v1/generations", json=body, headers=headers)
    assert created.status_code == 202
    process.send_signal(stop_signal)
    assert process.wait(timeout=5) == 0


def test_it_takes_its_key_and_webhook_secret_from_the_environment():
    env = {
        **os.environ,
        "RIVYA_SIM_API_KEY": "rvya_sk_from_env",
        "RIVYA_SIM_WEBHOOK_SECRET": "whsec_ZnJvbS1lbnYtc2VjcmV0LTAxMjM0NTY3ODk=",
        "RIVYA_SIM_WEBHOOK_URL": "http://127.0.0.1:9/webhooks/rivya/",
    }
    command = [sys.executable, "-m", "rivya_sim", "--port", "0"]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        base_url = base_url_of(child)
        credits = f"{base_url}/api/v1/credits"
        assert get(credits, headers={"Authorization": "Bearer rvya_sk_from_env"}).status_code == 200
        assert get(credits, headers={"Authorization": "Bearer rvya_sk_local"}).status_code == 401
    finally:
        child.terminate()
        child.wait(10)
