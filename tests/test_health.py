"""What the studio keeps of Rivya (generations/health.py, catalog.refresh_models): beat's refresh
tasks, the client's note of every call, and the outage the banner shows."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.utils import timezone

from generations import catalog, health, tasks
from generations.models import BalanceReading, RivyaSnapshot, Status
from generations.rivya import RivyaError, get_client
from tests.rows import generation
from tests.support import kept_balance, last_failure, rivya_failing_since, settings_refused

pytestmark = pytest.mark.django_db


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def snapshot(key: str) -> RivyaSnapshot:
    return RivyaSnapshot.objects.get(key=key)


@pytest.fixture
def hanging(sim, settings):
    """The simulator accepts every call and never answers it (within our 0.5 s deadline)."""
    settings.RIVYA_READ_TIMEOUT = 0.5
    settings.RIVYA_TOTAL_TIMEOUT = 0.5
    sim.faults.timeout(count=-1, seconds=5)
    return sim


# -- Beat's refresh ----------------------------------------------------------------------------


def test_it_keeps_the_model_list_and_the_balance_in_the_database(sim):
    sim.state.set_credits(777)
    assert tasks.refresh_models() is True
    assert tasks.refresh_balance() is True
    assert [m["id"] for m in snapshot(health.MODELS).value] == [
        "google-imagen4",
        "google-imagen4-fast",
        "google-imagen4-ultra",
    ]
    assert snapshot(health.BALANCE).value == {"credits": 777}


def test_each_balance_refresh_adds_a_reading_to_the_history(sim):
    sim.state.set_credits(900)
    tasks.refresh_balance()
    sim.state.set_credits(892)
    tasks.refresh_balance()
    assert list(BalanceReading.objects.order_by("at").values_list("credits", flat=True)) == [
        900,
        892,
    ]


def test_a_refresh_deletes_readings_older_than_400_days(sim):
    old = BalanceReading.objects.create(credits=5, at=ago(401 * 86400))
    kept = BalanceReading.objects.create(credits=6, at=ago(399 * 86400))
    tasks.refresh_balance()
    assert not BalanceReading.objects.filter(pk=old.pk).exists()
    assert BalanceReading.objects.filter(pk=kept.pk).exists()
    assert BalanceReading.objects.count() == 2


def test_a_restart_reads_the_last_good_copy_from_the_database(sim):
    sim.faults.removed_models = {"google-imagen4-ultra"}
    sim.state.set_credits(55)
    tasks.refresh_models()
    tasks.refresh_balance()
    cache.clear()  # a new process: nothing in its cache
    assert [m.id for m in catalog.imagen_models()] == ["google-imagen4", "google-imagen4-fast"]
    assert kept_balance().value == 55


def test_it_uses_the_documented_models_and_no_balance_when_nothing_is_kept():
    assert catalog.imagen_models() == list(catalog.DOCUMENTED_MODELS)
    assert health.balance() is None


@pytest.mark.parametrize(
    "break_rivya",
    [
        lambda sim: sim.faults.non_json(count=-1),
        lambda sim: sim.faults.server_error(count=-1, status=503),
    ],
    ids=["garbage", "503"],
)
def test_a_failed_refresh_keeps_the_last_good_copy(sim, break_rivya):
    sim.state.set_credits(900)
    tasks.refresh_models()
    tasks.refresh_balance()
    before = {key: snapshot(key) for key in (health.MODELS, health.BALANCE)}
    break_rivya(sim)
    sim.state.set_credits(1)
    assert tasks.refresh_models() is False
    assert tasks.refresh_balance() is False
    for key, row in before.items():
        after = snapshot(key)
        assert (after.value, after.fetched_at) == (row.value, row.fetched_at)
    assert kept_balance().value == 900
    assert BalanceReading.objects.count() == 1  # a failed refresh adds no reading


def test_a_hanging_rivya_keeps_the_last_good_copy(hanging):
    health.keep(health.BALANCE, {"credits": 42}, at=ago(600))
    assert tasks.refresh_balance() is False
    assert tasks.refresh_models() is False
    assert kept_balance().value == 42
    assert catalog.imagen_models() == list(catalog.DOCUMENTED_MODELS)
    assert last_failure().code == "timeout"


def test_an_older_copy_never_replaces_a_newer_one():
    health.keep(health.BALANCE, {"credits": 10}, at=ago(1))
    health.keep(health.BALANCE, {"credits": 99}, at=ago(30))  # a slow worker's older answer
    assert kept_balance().value == 10


def test_a_starting_worker_asks_for_the_list_and_the_balance():
    with (
        mock.patch.object(tasks.refresh_models, "delay") as models,
        mock.patch.object(tasks.refresh_balance, "delay") as balance,
    ):
        tasks.refresh_rivya_state()
    models.assert_called_once_with()
    balance.assert_called_once_with()


def test_a_starting_worker_survives_a_broker_that_is_down(caplog):
    with mock.patch.object(tasks.refresh_models, "delay", side_effect=ConnectionError("down")):
        tasks.refresh_rivya_state()
    assert "Could not enqueue the Rivya refresh" in caplog.text


# -- The note of every call --------------------------------------------------------------------


def test_it_notes_a_call_that_succeeded(sim):
    get_client().get_credits()
    assert health.health().last_success is not None
    assert health.health().last_failure is None


def test_it_notes_a_failure_with_rivyas_code_message_and_request_id(sim):
    sim.faults.server_error(count=1, status=503)
    with pytest.raises(RivyaError, match="internal_error"):
        get_client().get_credits()
    failure = last_failure()
    assert failure.code == "internal_error"
    assert failure.request_id.startswith("req_")
    assert "Rivya answered with a server error" in failure.message
    assert health.health().failing


def test_an_answer_after_a_failure_is_noted_at_once(sim):
    sim.faults.server_error(count=1)
    with pytest.raises(RivyaError, match="internal_error"):
        get_client().get_credits()
    get_client().get_credits()
    assert not health.health().failing


def test_a_busy_worker_writes_a_success_down_only_every_few_seconds(sim, django_assert_num_queries):
    get_client().get_credits()
    with django_assert_num_queries(0):
        get_client().get_credits()
        get_client().get_credits()


def test_a_refusal_is_rivya_answering_not_rivya_down(sim):
    sim.faults.scope_denied = True
    with pytest.raises(RivyaError, match="api_scope_denied"):
        get_client().get_credits()
    assert health.health().last_failure is None
    assert health.health().last_success is not None


def test_a_database_error_loses_the_note_not_the_answer(sim, caplog):
    sim.state.set_credits(31)
    with mock.patch.object(health, "keep", side_effect=OperationalError("database is locked")):
        assert get_client().get_credits() == 31
    assert "Could not note how a call to Rivya went" in caplog.text


def test_failures_in_a_row_keep_the_time_they_began(sim):
    sim.faults.server_error(count=2)
    for _ in range(2):
        with pytest.raises(RivyaError, match="internal_error"):
            get_client().get_credits()
    first = last_failure()
    RivyaSnapshot.objects.filter(key=health.LAST_FAILURE).update(fetched_at=ago(120))
    sim.faults.server_error(count=1)
    with pytest.raises(RivyaError, match="internal_error"):
        get_client().get_credits()
    assert last_failure().since == first.since

    get_client().get_credits()  # Rivya answers again: the next failure begins a new run
    sim.faults.server_error(count=1)
    with pytest.raises(RivyaError, match="internal_error"):
        get_client().get_credits()
    assert last_failure().since > first.since


# -- The outage the banner shows ---------------------------------------------------------------


def test_it_is_down_when_nothing_succeeded_for_a_minute_while_work_waits(alice):
    generation(alice, Status.QUEUED)
    rivya_failing_since(61)
    outage = health.outage()
    assert outage is not None
    assert outage.since == snapshot(health.LAST_SUCCESS).fetched_at


def test_it_says_since_the_first_failure_when_nothing_ever_succeeded(alice):
    generation(alice, Status.PROCESSING)
    rivya_failing_since(90, last_success=False)
    outage = health.outage()
    assert outage is not None
    assert outage.since is not None
    assert abs((timezone.now() - outage.since).total_seconds() - 89) < 5


def test_it_is_not_down_within_the_minute(alice):
    generation(alice, Status.QUEUED)
    rivya_failing_since(30)
    assert health.outage() is None


def test_it_says_nothing_when_no_work_waits(alice):
    generation(alice, Status.SUCCEEDED)
    rivya_failing_since(600)
    assert health.outage() is None


def test_the_threshold_is_a_setting(alice, settings):
    settings.RIVYA_DOWN_AFTER_SECONDS = 10
    generation(alice, Status.QUEUED)
    rivya_failing_since(30)
    assert health.outage() is not None


def test_a_success_ends_the_outage(alice, sim):
    generation(alice, Status.QUEUED)
    rivya_failing_since(600)
    assert health.outage() is not None
    get_client().get_credits()
    assert health.outage() is None


# -- The knobs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RIVYA_DOWN_AFTER_SECONDS", "0", "must be a number of seconds above 0"),
        ("RIVYA_DOWN_AFTER_SECONDS", "nan", "must be a number of seconds above 0"),
        ("RIVYA_REFRESH_EVERY_SECONDS", "-60", "must be a number of seconds above 0"),
        ("RIVYA_REFRESH_EVERY_SECONDS", "a minute", "must be a number, not 'a minute'"),
    ],
)
def test_a_bad_knob_stops_start_up_with_a_message(name, value, message):
    assert f"ImproperlyConfigured: {name} {message}" in settings_refused({name: value})
