"""Boards: the zip of a whole board (GET /boards/<id>/download.zip), its memory and its speed.
Issue 11 asks for "memory flat however many images".

A temporary folder under BENCH_DATA_DIR holds this part's own SQLite database and MEDIA_ROOT
(removed afterwards). Two boards are made, of 100 and 500 images (20 and 50 with --quick), each
image a file of about 1 MiB of random bytes (incompressible, like a real PNG), each generation
with its GenerationImage row, as the app stores them.

Each measurement runs in a fresh process (``python -m benchmarks.bench_boards measure ...``), so
the heap the seeding left behind cannot hide growth: it starts Django, signs in, loads the board's
page once (templates and queries warmed), then requests the zip through the app in-process
(django.test.Client: the whole middleware stack and the view, no network) and writes its chunks
to a file, as a browser would. Measured there:

- RSS (VmRSS from /proc) just before the request, the peak during it (VmHWM, reset through
  /proc/self/clear_refs before the request) and the highest VmRSS sampled every 16 chunks;
- time to first byte: from the request to the first chunk in hand; total time and MiB/s;
- afterwards, untimed: the written file opened with zipfile, every member's CRC checked, the
  member count and the Content-Length compared with what arrived.

A control shows the measure can see growth: the smaller board's zip once more, its chunks kept in
a list in memory (what a response built in memory would cost).
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.common import bench_user, cli, data_dir, emit, logged_in_client, setup
from benchmarks.jobs import rss_mb

MIB = 1024 * 1024
SAMPLE_EVERY = 16  # chunks of 256 KiB: one RSS reading per 4 MiB streamed


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux: 5 > /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def make_board(name: str, count: int, media_root: Path, user: Any) -> int:
    """A board of ``count`` succeeded generations, each with one stored file of about 1 MiB."""
    from generations.models import Board, BoardItem, Generation, GenerationImage, Status

    folder = media_root / "generations" / "bench" / name
    folder.mkdir(parents=True, exist_ok=True)
    block = random.randbytes(MIB)
    generations, names = [], []
    for n in range(count):
        stored = f"generations/bench/{name}/{n}.png"
        extra = random.randbytes(random.randrange(0, 64 * 1024))  # "about" 1 MiB, all distinct
        (media_root / stored).write_bytes(n.to_bytes(8, "big") + block + extra)
        names.append(stored)
        generations.append(
            Generation(
                user=user,
                form_token=uuid.uuid4(),
                prompt=f"Board bench {name}: a lighthouse at dawn, number {n}",
                status=Status.SUCCEEDED,
                image=stored,
                width=1024,
                height=1024,
            )
        )
    made = Generation.objects.bulk_create(generations, batch_size=500)
    board = Board.objects.create(name=f"Bench {name}", maker=user)
    GenerationImage.objects.bulk_create(
        GenerationImage(generation=g, position=0, image=s, width=1024, height=1024)
        for g, s in zip(made, names, strict=True)
    )
    BoardItem.objects.bulk_create(BoardItem(board=board, generation=g) for g in made)
    return board.pk


def stream_zip(client: Any, board_id: int, out: Path, *, keep: bool) -> dict[str, Any]:
    """Request the zip and write it to ``out``; ``keep`` also holds every chunk in memory."""
    kept: list[bytes] = []
    gc.collect()
    pid = os.getpid()
    before = rss_mb(pid)
    peak_reset = reset_peak()
    sampled_peak, chunks, received = before, 0, 0
    started = time.perf_counter()
    response = client.get(f"/boards/{board_id}/download.zip")
    assert response.status_code == 200, response.status_code
    first_byte = None
    with out.open("wb") as file:
        for chunk in response.streaming_content:
            if first_byte is None:
                first_byte = time.perf_counter() - started
            file.write(chunk)
            if keep:
                kept.append(chunk)
            received += len(chunk)
            chunks += 1
            if chunks % SAMPLE_EVERY == 0:
                sampled_peak = max(sampled_peak, rss_mb(pid))
    total = time.perf_counter() - started
    peak = rss_mb(pid, "VmHWM") if peak_reset else float("nan")
    kept.clear()
    return {
        "zip_mib": round(received / MIB, 1),
        "content_length_matches": int(response["Content-Length"]) == received,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_rss_sampled_mb": round(sampled_peak, 1),
        "peak_growth_mb": round(peak - before, 1),
        "time_to_first_byte_ms": round((first_byte or total) * 1000, 1),
        "total_s": round(total, 2),
        "mib_per_s": round(received / MIB / total, 1),
    }


def check_zip(path: Path, count: int) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()
        members = len(archive.namelist())
    return {"members": members, "all_members_present": members == count, "crc_ok": bad is None}


def measure(argv: list[str]) -> None:
    """The child: ``measure BACKEND WORK BOARD_ID COUNT stream|memory``; prints one JSON line."""
    backend, work, board_id, count, mode = argv
    folder = Path(work)
    setup(backend, SQLITE_PATH=str(folder / "boards.sqlite3"), MEDIA_ROOT=str(folder / "media"))
    client = logged_in_client(bench_user())
    assert client.get(f"/boards/{board_id}/").status_code == 200
    out = folder / f"board-{board_id}-{mode}.zip"
    run = {"images": int(count), "mode": mode}
    run.update(stream_zip(client, int(board_id), out, keep=mode == "memory"))
    run.update(check_zip(out, int(count)))
    out.unlink()
    print(json.dumps(run), flush=True)


def run_child(backend: str, work: Path, board_id: int, count: int, mode: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_boards", "measure", backend, str(work)]
    command += [str(board_id), str(count), mode]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    run: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(run, flush=True)
    return run


def main() -> None:
    if sys.argv[1:2] == ["measure"]:
        measure(sys.argv[2:])
        return
    args = cli(__doc__ or "")
    sizes = (20, 50) if args.quick else (100, 500)
    data_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="boards-", dir=data_dir()))
    try:
        media = work / "media"
        setup(args.backend, SQLITE_PATH=str(work / "boards.sqlite3"), MEDIA_ROOT=str(media))
        user = bench_user()
        boards = {count: make_board(f"{count}", count, media, user) for count in sizes}
        runs = [run_child(args.backend, work, boards[n], n, "stream") for n in sizes]
        control = run_child(args.backend, work, boards[sizes[0]], sizes[0], "memory")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(
        args,
        {
            "part": "boards",
            "image_bytes": "about 1 MiB each (1 MiB + 0-64 KiB), random",
            "runs": runs,
            "control_kept_in_memory": control,
            "peak_growth_difference_mb": round(
                runs[-1]["peak_growth_mb"] - runs[0]["peak_growth_mb"], 1
            ),
        },
    )


if __name__ == "__main__":
    main()
