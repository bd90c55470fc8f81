"""Race tests: requests made at once by separate processes against a real PostgreSQL (the
row locks under test do nothing on SQLite). A probe module does the racing and prints what it
saw as one JSON line; the test reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from testsupport.stack import ROOT


def migrated_database(postgres_url: str, data_dir: Path, prefix: str) -> dict[str, str]:
    """A fresh database on the run's PostgreSQL, migrated; the environment that reaches it."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    env = {
        **os.environ,
        "TIDEGATE_DEBUG": "1",
        "TIDEGATE_DATA_DIR": str(data_dir),
        "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + f"/{name}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrate.returncode == 0, migrate.stderr
    return env


def run_probe(env: dict[str, str], module: str, *args: str) -> dict:
    """Run ``python -m module args`` and return the JSON object of its last line of output."""
    run = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def in_threads(*calls):
    """Run each of ``calls`` in a thread of its own, at once, each with its own database
    connection (closed after); their results in order. For the probes, inside Django."""
    import threading

    from django.db import connection

    results = [None] * len(calls)

    def run(i, call):
        try:
            results[i] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
