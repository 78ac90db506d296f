"""The embedded broker (``atomicfs://``): kombu's filesystem transport, made safe to read while
others write.

Invariant: a file under a message name (``<ns>_<uuid>.<queue>.msg``) is always complete, and
exactly one reader takes it. A writer puts the message under a temporary name in the same folder
(``.<name>.tmp``, which no reader looks at) and renames it into place with ``os.replace``, which is
atomic within one file system; a reader claims a message by renaming it into ``processed/`` (same
file system, so again atomic: a second reader gets ``FileNotFoundError`` and moves on), then
reads and deletes it. The exchange tables in ``control/`` are rewritten the same way, under a lock.

Why not kombu's own ``filesystem://`` (``kombu/transport/filesystem.py``): its writer creates the
file under its final name (``open(name, "wb")``), then locks it, serializes the payload and writes
it, while its reader takes no lock and moves any file it lists. A reader that lists the folder in
between reads an empty or half-written file and the worker dies with "Unrecoverable error:
JSONDecodeError" (fault 26 in ``docs/reliability.md``, which reproduces it in seconds). Its reader
also moves the file to the system temp folder, which is a copy when that is another file system.

Why not kombu's SQLAlchemy transport on a SQLite file, the other candidate measured in
``benchmarks/bench_broker.py`` (``docs/benchmarks.md``, "The embedded broker"): it never reads a
half-written message (each message is a row written in a transaction), but it never deletes a
delivered message either (the table grows by one row per task, forever), has no fanout (so no
``celery inspect``), takes SQLite's write lock on every poll of every queue, and cannot take
``polling_interval`` from the transport options (they all go to ``create_engine``). Measured side
by side it also started a task 8-25 ms later at the median and got through half to two thirds as
many messages a second. This transport keeps the embedded default's behaviour and folders, and
costs one rename per message.

The broker is a doorbell: the database holds every generation's state and next check, and the
reconciler re-enqueues what is overdue. So a message that still cannot be decoded (say, one left by
kombu's old writer in an existing ``var/broker``) is logged and dropped, not fatal; no fsync is
made (a message lost in a power cut is found again by the reconciler). A missing folder raises
:class:`BrokerFolderMissing`, one of kombu's connection errors: a publisher gives up after its
short retry policy and a worker waits and reconnects, instead of dying, until the folder is back
(runstack and the test fixtures create the folders with :func:`make_folders`; settings do no I/O).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.exceptions import ConnectionError as KombuConnectionError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.transport.virtual.base import BrokerState
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

SCHEME = "atomicfs"
URL = f"{SCHEME}://"
FOLDERS = ("out", "control", "processed")
TEMP_SUFFIX = ".tmp"


class BrokerFolderMissing(KombuConnectionError):
    """A broker folder is not there: one of kombu's connection errors (the ones a transport
    declares recoverable), so Celery retries instead of dying."""


def folder_options(folder: Path) -> dict[str, Any]:
    """The transport options of an embedded broker kept in ``folder``."""
    return {
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def make_folders(options: dict[str, Any]) -> None:
    """Create the folders these transport options name (runstack, bootstrap and test fixtures)."""
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the whole file or none of it. Only one
    writer at a time may write one ``path`` (message names are unique; tables are locked)."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}{TEMP_SUFFIX}")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def is_message_of(name: str, queue: str) -> bool:
    """A complete message file for ``queue``: never a temporary or hidden file."""
    return not name.startswith(".") and name.partition(".")[2] == f"{queue}.msg"


class Channel(filesystem.Channel):
    """Writes by rename, claims by rename; see the module docstring."""

    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # Zero-padded nanoseconds, so that sorting the names gives the order they were sent in
        # (kombu's unpadded milliseconds tie within a millisecond and sort 999 after 1000).
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(os.path.join(self.data_folder_out, name), dumps(payload).encode())
        except FileNotFoundError as exc:
            raise BrokerFolderMissing(f"No broker folder at {self.data_folder_out}") from exc
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out}") from exc

    def _get(self, queue: str) -> dict[str, Any]:  # type: ignore[override]
        for name in sorted(self._listdir(self.data_folder_in)):
            if not is_message_of(name, queue):
                continue
            payload = self._claim(name)
            if payload is None:
                continue  # another reader took it first
            try:
                message: dict[str, Any] = loads(payload)
            except (ValueError, UnicodeDecodeError):
                logger.error("Dropped unreadable broker message %s (%d bytes)", name, len(payload))
                continue
            return message
        raise Empty()

    def _claim(self, name: str) -> bytes | None:
        """Move the message into ``processed/`` (atomic: one reader wins), read it, delete it
        unless ``store_processed``. None when another reader moved it first."""
        claimed = os.path.join(self.processed_folder, name)
        try:
            os.rename(os.path.join(self.data_folder_in, name), claimed)
        except FileNotFoundError:
            self._listdir(self.processed_folder)  # raises if the folder, not the file, is gone
            return None
        try:
            with open(claimed, "rb") as file:
                payload = file.read()
            if not self.store_processed:
                os.remove(claimed)
        except OSError as exc:
            raise ChannelError(f"Cannot read the broker message {claimed}") from exc
        return payload

    def _size(self, queue: str) -> int:
        return sum(is_message_of(name, queue) for name in self._listdir(self.data_folder_in))

    def _purge(self, queue: str) -> int:
        purged = 0
        for name in self._listdir(self.data_folder_in):
            if is_message_of(name, queue):
                with contextlib.suppress(FileNotFoundError):  # a reader took it meanwhile
                    os.remove(os.path.join(self.data_folder_in, name))
                    purged += 1
        return purged

    @staticmethod
    def _listdir(folder: str) -> list[str]:
        try:
            return os.listdir(folder)
        except FileNotFoundError as exc:
            raise BrokerFolderMissing(f"No broker folder at {folder}") from exc

    # -- Exchange tables: rewritten whole, under one lock per control folder. --

    def get_table(self, exchange: str) -> list[Any]:
        try:
            table = json.loads(self._table_path(exchange).read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ChannelError(f"Cannot read the exchange table of {exchange!r}") from exc
        return [filesystem.exchange_queue_t(*row) for row in table]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._tables_locked():
            table = self.get_table(exchange)
            if row not in table:
                self._write_table(exchange, [row, *table])

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        """Called with ``(queue, exchange, routing_key, pattern, queue)`` for each binding."""
        super(filesystem.Channel, self)._delete(queue, *args, **kwargs)  # purge, as kombu does
        exchange, routing_key, pattern = args[:3]
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._tables_locked():
            table = self.get_table(exchange)
            if row in table:
                self._write_table(exchange, [r for r in table if r != row])

    def _write_table(self, exchange: str, table: list[Any]) -> None:
        try:
            write_atomically(str(self._table_path(exchange)), dumps(table).encode())
        except OSError as exc:
            raise ChannelError(f"Cannot write the exchange table of {exchange!r}") from exc

    def _table_path(self, exchange: str) -> Path:
        """kombu's own path, which refuses exchange names that could leave the folder."""
        path: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]  # not in stubs
        return path

    @contextlib.contextmanager
    def _tables_locked(self) -> Iterator[None]:
        """One writer of exchange tables at a time, across processes (readers need no lock:
        they see the old table or the new one, never half of one)."""
        try:
            lock_file = open(self.control_folder / ".tables.lock", "ab")  # noqa: SIM115
        except FileNotFoundError as exc:
            raise BrokerFolderMissing(f"No broker folder at {self.control_folder}") from exc
        with lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            yield


class Transport(filesystem.Transport):
    """``atomicfs://``: the filesystem transport with :class:`Channel`."""

    Channel = Channel
    global_state = BrokerState()
    driver_type = SCHEME
    driver_name = SCHEME


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
