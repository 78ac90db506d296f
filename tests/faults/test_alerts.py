"""Alerts to the admins with real worker processes (issue 12): one mail per threshold and
period, however many workers look at once, however often the task runs, and when the first
sends fail. A worker cannot share this process's locmem outbox, so the workers write their mail
to files (Django's file backend, EMAIL_FILE_PATH) and the test reads them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from generations import tasks
from generations.models import AlertSent, MemberBudget, TeamBudget, this_month
from tests.faults.processes import WorkerProcess, Workers, free_port
from tests.support import wait_for

EXPECTED = [
    "[Imagen Studio] Rivya's balance is under 1000000 credits",
    "[Imagen Studio] The team has used 100 % of its monthly cap",
    "[Imagen Studio] The team has used 80 % of its monthly cap",
    "[Imagen Studio] alice has used 100 % of their monthly budget",
    "[Imagen Studio] alice has used 80 % of their monthly budget",
]
# Every balance Rivya (the simulator: 100,000 credits) reports is under this.
LOW_BALANCE = "1000000"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def mailed_subjects(folder: Path) -> list[str]:
    """The subject of every message the file backend wrote (one file per connection)."""
    if not folder.is_dir():
        return []
    text = "".join(path.read_text() for path in folder.iterdir())
    return sorted(re.findall(r"^Subject: (.*)$", text, flags=re.MULTILINE))


def alert_runs(started: list[WorkerProcess]) -> int:
    """How many send_alerts tasks the workers have finished, by their logs."""
    done = re.compile(r"Task generations\.tasks\.send_alerts\[[^\]]+\] succeeded")
    return sum(len(done.findall(worker.output())) for worker in started)


def ring_alerts(times: int) -> None:
    for _ in range(times):
        assert tasks.ring(tasks.send_alerts)


@pytest.mark.slow
def test_it_mails_each_threshold_once_with_real_workers_under_retries(
    workers: Workers, alice, bob, charlie, alice_client, bob_client, form_data, tmp_path
):
    charlie.email = "charlie@example.com"
    charlie.save()
    MemberBudget.objects.create(user=alice, monthly_limit=40, period=this_month())
    TeamBudget.objects.create(monthly_limit=48, period=this_month())

    # 1. The mail server refuses connections: every alert is claimed, none is sent.
    closed = str(free_port())
    first = [
        workers.start(
            LOW_BALANCE_CREDITS=LOW_BALANCE,
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=closed,
            EMAIL_USE_TLS="false",
        )
        for _ in range(2)
    ]
    for _ in range(5):  # Alice reaches 80 % and 100 % of her 40; the team 80 % of its 48
        assert alice_client.post("/generations/", form_data()).status_code == 302
    assert bob_client.post("/generations/", form_data()).status_code == 302  # the team's 100 %
    wait_for(lambda: AlertSent.objects.count() == len(EXPECTED), timeout=60)
    ring_alerts(10)
    # Each worker's start refreshes the balance, which rings once; each submit rings once.
    wait_for(lambda: alert_runs(first) >= 2 + 6 + 10, timeout=60)
    assert not AlertSent.objects.filter(sent_at__isnull=False).exists()
    assert "Could not send the alert" in first[0].output() + first[1].output()
    for worker in first:
        worker.stop()

    # 2. The mail server is back, and the claims are older than ALERT_RESEND_AFTER_SECONDS:
    # 20 runs of the task on two workers of four threads each race to send them again.
    mail = tmp_path / "mail"
    AlertSent.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    ring_alerts(20)  # waiting in the broker: eight threads take eight at once as they start
    second = [
        workers.start(
            LOW_BALANCE_CREDITS=LOW_BALANCE, EMAIL_BACKEND=FILE_BACKEND, EMAIL_FILE_PATH=str(mail)
        )
        for _ in range(2)
    ]
    wait_for(lambda: alert_runs(second) >= 2 + 20, timeout=60)
    assert mailed_subjects(mail) == EXPECTED
    assert not AlertSent.objects.filter(sent_at__isnull=True).exists()

    # 3. More runs, a balance refresh: still one mail per threshold.
    tasks.refresh_balance.delay()
    ring_alerts(10)
    wait_for(lambda: alert_runs(second) >= 2 + 20 + 1 + 10, timeout=60)
    assert mailed_subjects(mail) == EXPECTED
