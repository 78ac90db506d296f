"""Several images per request (issue 11) through a real worker process and the simulator: each
image is its own Rivya task under its own key, and each is charged once. Not a fault of
docs/reliability.md's table: the path every request of four takes, end to end."""

from __future__ import annotations

import pytest

from generations.models import Generation, MemberBudget, Status
from tests.support import (
    RESERVED_AND_CHARGED,
    finished,
    images_of,
    ledger_entries_of,
    remote_tasks_for,
    wait_for,
)

pytestmark = [pytest.mark.slow]


def test_four_images_arrive_and_each_is_charged_once(sim, workers, alice, alice_client, form_data):
    workers.start()
    response = alice_client.post("/generations/", form_data(count="4"))
    assert response.status_code == 302
    rows = list(Generation.objects.order_by("batch_position"))
    assert len(rows) == 4
    wait_for(lambda: all(finished(row.pk) for row in rows), timeout=60)
    for row in rows:
        row.refresh_from_db()
        assert row.status == Status.SUCCEEDED, row.error_message
        assert [t.id for t in remote_tasks_for(sim, row)] == [row.remote_task_id]
        assert images_of(row) == 1
        assert ledger_entries_of(row) == RESERVED_AND_CHARGED
    assert len({row.remote_task_id for row in rows}) == 4
    assert sim.state.creates_total == 4
    assert sim.state.credits_charged == 32
    assert MemberBudget.objects.get(user=alice).used == 32
    detail = alice_client.get(f"/generations/{rows[0].pk}/").content.decode()
    assert detail.count('class="full"') == 4
