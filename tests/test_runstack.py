"""``manage.py runstack``'s supervisor, step by step, on tiny real processes. The whole command,
with a real stack, is tested in ``tests/faults/test_stack.py`` (faults 27 and 28)."""

from __future__ import annotations

import logging
import sys

from generations.management.commands.runstack import Child, stop_all, watch
from tests.support import wait_for


def exiting_child(code: int) -> Child:
    return Child("tiny", [sys.executable, "-c", f"raise SystemExit({code})"], {})


def test_it_backs_off_1_2_4_up_to_30_seconds_while_a_child_keeps_exiting_quickly():
    child = exiting_child(0)
    delays = []
    for _ in range(8):
        child.started_at = 100.0
        delays.append(child.schedule_restart(now=105.0))
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_it_backs_off_1_second_again_once_a_child_ran_for_a_minute():
    child = exiting_child(0)
    for _ in range(4):
        child.started_at = 100.0
        child.schedule_restart(now=101.0)
    child.started_at = 100.0
    assert child.schedule_restart(now=161.0) == 1


def test_it_notices_an_exit_says_so_and_starts_the_child_again(caplog):
    child = exiting_child(3)
    child.start()
    assert child.process is not None
    first_pid = child.process.pid
    child.process.wait(10)

    with caplog.at_level(logging.WARNING, logger="runstack"):
        watch(child, now=child.started_at + 5)
        assert child.process is None
        watch(child, now=child.started_at + 5.5)  # still backing off
        assert child.process is None
        watch(child, now=child.started_at + 6)

    assert child.process is not None
    assert child.process.pid != first_pid
    assert child.exits == [3]
    assert "tiny exited (exit code 3) after 5 s; starting it again in 1 s." in caplog.text
    assert f"Started tiny again (pid {child.process.pid})" in caplog.text
    stop_all([child])


def test_it_says_which_signal_killed_a_child(caplog):
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    child.start()
    assert child.process is not None
    child.process.kill()
    child.process.wait(10)

    with caplog.at_level(logging.WARNING, logger="runstack"):
        watch(child, now=child.started_at + 1)

    assert "sleeper exited (killed by SIGKILL)" in caplog.text


def test_it_stops_a_child_that_ignores_sigterm(monkeypatch, tmp_path):
    monkeypatch.setattr("generations.management.commands.runstack.STOP_SECONDS", 1)
    deaf = tmp_path / "deaf"
    stubborn = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    child = Child("stubborn", [sys.executable, "-c", stubborn, str(deaf)], {})
    child.start()
    wait_for(deaf.exists)

    stop_all([child])

    assert child.process is not None
    assert child.process.returncode == -9
