"""``python -m benchmarks [--quick] [--pg|--no-pg] [--only a,b]``: every part, one results file.

Each part runs in its own process, once on the embedded default (SQLite, filesystem broker) and,
when PostgreSQL and Redis answer (or ``--pg`` insists), once on PostgreSQL + Redis. The raw
results go to ``benchmarks/results/<UTC time>.json``; a table of figures beside their floors is
printed at the end. A benchmark measures; nothing here fails a build for being slow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.common import PG_URL, REDIS_URL, ROOT, data_dir, load_average
from benchmarks.floors import table

PARTS = {
    "cards": ("sqlite", "pg"),
    "submit": ("sqlite", "pg"),
    "history": ("sqlite", "pg"),
    "search": ("sqlite", "pg"),
    "usage": ("sqlite", "pg"),
    "worker": ("sqlite", "pg"),
    "scale": ("sqlite", "pg"),  # one, two and four worker processes (issue 14)
    "memory": ("sqlite",),
    "browser": ("sqlite", "pg"),
    "boards": ("sqlite",),  # files and one query: the database hardly matters
    "broker": ("sqlite",),
    "rivya": ("sqlite", "pg"),
}
RESULTS = ROOT / "benchmarks" / "results"


def services_answer() -> str:
    """'' when PostgreSQL and Redis both answer (the bench database is made if missing)."""
    try:
        import psycopg
        import redis

        parts = urlsplit(PG_URL)
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            name = parts.path.lstrip("/")
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # any reason at all: say it and run the embedded default only
        return f"{type(exc).__name__}: {exc}"
    return ""


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    chromium = subprocess.run(
        ["chromium", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "chromium": chromium,
        "kernel": platform.release(),
    }


def run_part(part: str, backend: str, quick: bool, timeout: float) -> dict[str, Any]:
    out = data_dir() / f"{part}-{backend}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", f"benchmarks.bench_{part}", "--backend", backend]
    command += ["--json", str(out)] + (["--quick"] if quick else [])
    print(f"==> {part} on {backend}", flush=True)
    load_before, started = load_average(), time.monotonic()
    try:
        finished = subprocess.run(
            command, cwd=ROOT, timeout=timeout, capture_output=True, text=True
        )
    except subprocess.TimeoutExpired:
        return {"part": part, "backend": backend, "error": f"did not finish in {timeout} s"}
    info = {
        "seconds": round(time.monotonic() - started, 1),
        "load_before": load_before,
        "load_after": load_average(),
    }
    if finished.returncode != 0 or not out.exists():
        tail = (finished.stderr or finished.stdout)[-3000:]
        print(tail, file=sys.stderr)
        return {"part": part, "backend": backend, "error": tail, **info}
    return {**json.loads(out.read_text()), **info}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a check")
    pg = parser.add_mutually_exclusive_group()
    pg.add_argument("--pg", action="store_true", help="fail unless PostgreSQL and Redis answer")
    pg.add_argument("--no-pg", action="store_true", help="the embedded default only")
    parser.add_argument("--only", default="", help="comma-separated parts: " + ",".join(PARTS))
    args = parser.parse_args()
    only = [p for p in args.only.split(",") if p] or list(PARTS)
    unknown = set(only) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    backends = ["sqlite"]
    skipped = "not asked for (--no-pg)" if args.no_pg else services_answer()
    if not skipped:
        backends.append("pg")
    elif args.pg:
        sys.exit(f"PostgreSQL + Redis were asked for (--pg) but do not answer: {skipped}")
    else:
        print(f"PostgreSQL + Redis parts SKIPPED: {skipped}", flush=True)
    data_dir().mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    results = [
        run_part(part, backend, args.quick, timeout=900 if args.quick else 3600)
        for backend in backends
        for part in only
        if backend in PARTS[part]
    ]
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["script/bench", *sys.argv[1:]]),
        "quick": args.quick,
        "machine": machine(),
        "pg_skipped": skipped,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    name = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "") + ".json"
    (RESULTS / name).write_text(json.dumps(report, indent=2, default=str))
    print(table(report))
    print(f"\nRaw results: benchmarks/results/{name}")
    if any("error" in r for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
