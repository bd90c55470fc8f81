"""Who may read Tidegate's secrets at rest: the account it runs as, nobody else.

The data directory (``TIDEGATE_DATA_DIR``) holds the SQLite database (with the Key
Manager's private signing keys and hashed client secrets), the gateway's TLS key, its
test-key signing key and its copy of the configuration snapshot. The directory is made
0700 and those files 0600: the SQLite file is created empty with 0600 before Django first
connects (SQLite gives its -wal, -shm and -journal files the database's mode), the gateway
writes its files 0600 itself, each through ``write_private_file``. Anything found looser at
start, left by an older version or a copy, is tightened here, with a warning naming the path
and the mode it had.

The modes and the helpers the gateway shares live in ``gateway_contract.datadir``.
Called once per process from ``PortalConfig.ready()`` (portal, gateways, every management
command), after logging is configured and before any database connection.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway_contract.datadir import (
    GATEWAY_SECRETS,
    PRIVATE_DIR,
    PRIVATE_FILE,
    private_dir,
    tighten,
    write_private_file,
)

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "create_private_file",
    "private_dir",
    "secure_data_dir",
    "tighten",
    "write_private_file",
]

# SQLite's side files next to the database, named after it.
SQLITE_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is a valid, empty
    SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_path(databases: dict) -> Path | None:
    db = databases.get("default", {})
    name = str(db.get("NAME") or "")
    if not db.get("ENGINE", "").endswith("sqlite3") or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def secure_data_dir(data_dir: Path, databases: dict) -> None:
    """The data directory 0700, the SQLite database (made now if missing) and its side files
    0600, and the gateway's secrets in the data directory 0600."""
    data_dir = private_dir(Path(data_dir))
    sqlite = _sqlite_path(databases)
    if sqlite is not None:
        # Elsewhere (TIDEGATE_SQLITE_PATH) its directory is the operator's: only the files are ours.
        sqlite.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(sqlite)
        for path in (sqlite, *(sqlite.with_name(sqlite.name + s) for s in SQLITE_SIDE_SUFFIXES)):
            tighten(path, what="database file")
    for pattern in GATEWAY_SECRETS:
        for path in sorted(data_dir.glob(pattern)):
            tighten(path, what="secret file")
