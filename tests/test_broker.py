"""The embedded broker (``atomicfs://``, imagen_site/broker.py): a reader never sees a message
before it is whole, each message goes to one reader, and nothing it finds kills a worker."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from imagen_site import broker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def options(tmp_path: Path) -> dict[str, Any]:
    chosen = broker.folder_options(tmp_path / "broker")
    broker.make_folders(chosen)
    return chosen


@pytest.fixture
def channel(options: dict[str, Any]) -> Iterator[Any]:
    with Connection(broker.URL, transport_options=options) as connection:
        yield connection.default_channel


def another_channel(options: dict[str, Any]) -> Any:
    return Connection(broker.URL, transport_options=options).default_channel


def files_in(options: dict[str, Any]) -> list[str]:
    return sorted(os.listdir(options["data_folder_out"]))


def test_it_uses_its_own_transport_for_its_scheme(channel):
    assert isinstance(channel, broker.Channel)


def test_it_never_shows_a_message_before_it_is_whole(channel, options, monkeypatch):
    written, release = threading.Event(), threading.Event()
    original = os.replace

    def pause_before_renaming(source: str, target: str) -> None:
        written.set()
        release.wait(10)
        original(source, target)

    monkeypatch.setattr(os, "replace", pause_before_renaming)
    writer = threading.Thread(target=channel._put, args=("q", {"body": "x" * 5000}))
    writer.start()
    assert written.wait(10)

    [temporary] = files_in(options)
    assert temporary.startswith(".")
    assert temporary.endswith(broker.TEMP_SUFFIX)
    with pytest.raises(Empty):
        another_channel(options)._get("q")
    release.set()
    writer.join(10)
    assert another_channel(options)._get("q") == {"body": "x" * 5000}
    assert files_in(options) == []


def test_it_gives_each_message_to_exactly_one_reader(channel, options):
    for n in range(200):
        channel._put("q", {"n": n})
    seen: list[int] = []

    def read_all() -> None:
        reader = another_channel(options)
        while True:
            try:
                seen.append(reader._get("q")["n"])
            except Empty:
                return

    readers = [threading.Thread(target=read_all) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(30)
    assert sorted(seen) == list(range(200))


def test_it_reads_messages_in_the_order_they_were_sent(channel):
    for n in range(5):
        channel._put("q", {"n": n})
    assert [channel._get("q")["n"] for _ in range(5)] == [0, 1, 2, 3, 4]


def test_it_drops_an_unreadable_message_with_a_log_line_and_reads_the_next(
    channel, options, caplog
):
    old = Path(options["data_folder_out"], "00000000000000000001_old.q.msg")
    old.write_bytes(b'{"half": "writ')
    channel._put("q", {"n": 1})

    with caplog.at_level(logging.ERROR, logger="imagen_site.broker"):
        assert channel._get("q") == {"n": 1}
    assert "Dropped unreadable broker message 00000000000000000001_old.q.msg" in caplog.text
    assert files_in(options) == []


def test_it_counts_and_purges_only_whole_messages(channel, options):
    channel._put("q", {"n": 1})
    Path(options["data_folder_out"], ".2_x.q.msg.tmp").write_bytes(b"{")
    assert channel._size("q") == 1
    assert channel._purge("q") == 1
    with pytest.raises(Empty):
        channel._get("q")


def test_it_raises_a_connection_error_when_its_folder_is_gone(channel, options):
    os.rename(options["data_folder_out"], options["data_folder_out"] + "-away")

    with pytest.raises(broker.BrokerFolderMissing):
        channel._put("q", {"n": 1})
    with pytest.raises(broker.BrokerFolderMissing, match="No broker folder"):
        channel._get("q")
    with pytest.raises(broker.BrokerFolderMissing, match="No broker folder"):
        channel._size("q")
    assert issubclass(broker.BrokerFolderMissing, broker.Transport.connection_errors)


def test_it_keeps_every_binding_when_many_bind_at_once(options):
    def bind(n: int) -> None:
        another_channel(options)._queue_bind("ex", f"key{n}", "", f"queue{n}")

    binders = [threading.Thread(target=bind, args=(n,)) for n in range(20)]
    for binder in binders:
        binder.start()
    for binder in binders:
        binder.join(30)

    table = another_channel(options).get_table("ex")
    assert sorted(row.queue for row in table) == sorted(f"queue{n}" for n in range(20))


def test_it_removes_a_binding_when_its_queue_is_deleted(channel):
    channel._queue_bind("ex", "a", "", "qa")
    channel._queue_bind("ex", "b", "", "qb")

    channel._delete("qa", "ex", "a", "", "qa")

    assert [row.queue for row in channel.get_table("ex")] == ["qb"]


def test_it_refuses_an_exchange_name_that_would_leave_the_folder(channel):
    with pytest.raises(ChannelError, match="Invalid exchange name"):
        channel._queue_bind("../out", "a", "", "qa")


def test_settings_refuse_kombus_plain_filesystem_broker(tmp_path):
    env = {**os.environ, "CELERY_BROKER_URL": "filesystem://", "IMAGEN_DATA_DIR": str(tmp_path)}
    finished = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "imagen_site.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode != 0
    assert "can hand a worker a half-written message" in finished.stderr


def test_settings_create_no_folder(tmp_path):
    data_dir = tmp_path / "not-yet"
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["IMAGEN_DATA_DIR"] = str(data_dir)
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "imagen_site.settings"},
        check=True,
    )
    assert not data_dir.exists()
