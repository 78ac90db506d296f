"""Faults 27 and 28 of docs/reliability.md: ``manage.py runstack`` (what ``script/server`` runs)
keeps the studio up when one of its processes dies, stops every process it started, and keeps
secrets off command lines. The real command, on free ports, with its own data folder, on the test
database."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from generations import rivya, tasks
from generations.management.commands.runstack import SIMULATOR_API_KEY
from generations.models import Status
from imagen_site.celery import app as celery_app
from tests.faults.processes import ROOT, Broker, database_env, free_port, media_env, publish_to
from tests.support import new_generation, wait_for, wait_until_status

STARTED = re.compile(r"Started (\w+)(?: again)? \(pid (\d+)\)")


@dataclass
class Stack:
    """One ``manage.py runstack`` process and what it printed."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int
    sim_port: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        """Every pid ``name`` has had, in order."""
        return [int(pid) for who, pid in STARTED.findall(self.output()) if who == name]

    def web_answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=2).is_success
        return False

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def stack_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVYA_")}
    env.update(database_env())
    env.update(media_env())
    env.update(
        IMAGEN_DATA_DIR=str(data_dir),
        CELERY_BROKER_URL="atomicfs://",
        CELERY_QUEUE=str(celery_app.conf.task_default_queue),
        RIVYA_SIM_DELAY="0.3",
        PYTHONUNBUFFERED="1",
    )
    return env


def group_members(groups: set[int]) -> list[str]:
    """Every live process (not a zombie) whose process group is one of ``groups``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups and fields[0] != "Z":
                found.append(stat.parent.name)
    return found


@pytest.fixture
def stack(transactional_db, tmp_path, settings) -> Iterator[Stack]:
    port, sim_port = free_port(), free_port()
    data_dir = tmp_path / "stack-data"  # not made here: runstack makes its folders
    log = tmp_path / "runstack.log"
    argv = [
        sys.executable,
        "manage.py",
        "runstack",
        "--port",
        str(port),
        "--sim-port",
        str(sim_port),
    ]
    env = stack_env(data_dir)
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Stack(process, log, port, sim_port)
    saved = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    try:
        wait_for(lambda: running.web_answers() and " ready." in running.output(), timeout=90)
        settings.RIVYA_BASE_URL = f"http://127.0.0.1:{sim_port}"
        settings.RIVYA_API_KEY = SIMULATOR_API_KEY
        rivya.reset_client()
        Broker("", data_dir).use()  # this test publishes to the stack's own broker folder
        yield running
    finally:
        publish_to(*saved)
        running.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def generate_once(alice: Any) -> None:
    generation = new_generation(alice, prompt="A lighthouse after the storm")
    tasks.enqueue_submit(generation.pk)
    assert wait_until_status(generation.pk, Status.SUCCEEDED, Status.FAILED, timeout=60).status == (
        Status.SUCCEEDED
    )


def kill_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)


@pytest.mark.fault(27)
@pytest.mark.slow
def test_it_starts_a_killed_worker_again_while_the_web_keeps_answering(stack, alice):
    [first_worker] = stack.pids("worker")
    kill_group(first_worker)

    answers = []

    def worker_back() -> bool:
        answers.append(stack.web_answers())
        return len(stack.pids("worker")) == 2 and stack.output().count(" ready.") >= 2

    wait_for(worker_back, timeout=60, every=0.2)
    assert all(answers)
    assert "worker exited (killed by SIGKILL)" in stack.output()
    assert "starting it again in 1 s. The others keep running." in stack.output()
    generate_once(alice)  # submitted after the kill: the new worker sends it

    [web] = stack.pids("web")
    kill_group(web)
    wait_for(lambda: len(stack.pids("web")) == 2 and stack.web_answers(), timeout=60)


@pytest.mark.fault(27)
@pytest.mark.slow
def test_it_leaves_no_process_behind_when_stopped(stack):
    groups = {pid for name in ("simulator", "web", "worker", "beat") for pid in stack.pids(name)}
    assert len(groups) == 4
    assert group_members(groups)

    assert stack.stop() == 0

    assert group_members(groups) == []
    assert "Stopping" in stack.output()


@pytest.mark.fault(28)
@pytest.mark.slow
def test_it_gives_the_simulator_its_secrets_by_environment_not_argv(stack):
    [simulator] = stack.pids("simulator")
    argv = Path(f"/proc/{simulator}/cmdline").read_bytes().split(b"\0")
    environ = Path(f"/proc/{simulator}/environ").read_bytes().split(b"\0")

    assert b"-m" in argv
    assert b"rivya_sim" in argv
    assert not [arg for arg in argv if b"rvya_sk_" in arg or b"whsec_" in arg]
    assert f"RIVYA_SIM_API_KEY={SIMULATOR_API_KEY}".encode() in environ
    assert [v for v in environ if v.startswith(b"RIVYA_SIM_WEBHOOK_SECRET=whsec_")]


@pytest.mark.fault(28)
def test_it_refuses_to_hand_a_real_key_to_the_simulator(tmp_path, settings):
    env = stack_env(tmp_path / "data")
    env["RIVYA_API_KEY"] = "rvya_sk_live_a_real_teams_key"
    sim_port = free_port()
    finished = subprocess.run(
        [sys.executable, "manage.py", "runstack", "--port", str(free_port()),
         "--sim-port", str(sim_port)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert finished.returncode == 1
    assert "RIVYA_API_KEY is set but RIVYA_BASE_URL is not" in finished.stderr
    assert "Set RIVYA_BASE_URL" in finished.stderr
    assert "rvya_sk_live_a_real_teams_key" not in finished.stdout + finished.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{sim_port}/", timeout=2)
