"""Who may read Tidegate's secrets at rest: the account it runs as, nobody else.

The data directory (``TIDEGATE_DATA_DIR``) holds the SQLite database (with the Key
Manager's private signing keys and hashed client secrets), the gateway's TLS key, its
test-key signing key and its copy of the configuration snapshot. The directory is made
0700 and those files 0600: the SQLite file is created empty with 0600 before Django first
connects (SQLite gives its -wal, -shm and -journal files the database's mode), the gateway
writes its files 0600 itself, each through ``write_private_file``. Anything found looser at
start, left by an older version or a copy, is tightened here, with a warning naming the path
and the mode it had.

Called once per process from ``PortalConfig.ready()`` (portal, gateways, every management
command), after logging is configured and before any database connection.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("tidegate.filemodes")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# SQLite's side files next to the database, named after it.
SQLITE_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
# Secrets the gateway writes into the data directory (glob patterns, relative to it).
DATA_DIR_SECRETS = ("tls/gateway.key", "gateway/testkey-jwk.json", "gateway/snapshot-*.json")


def tighten(path: Path, *, what: str) -> None:
    """Take group and other permissions off ``path`` if it has any, with a warning.
    A path that does not exist is left alone."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    new = mode & ~0o077
    try:
        os.chmod(path, new)
    except OSError as exc:
        log.error("%s %s is mode %04o (readable by others) and could not be tightened: %s", what, path, mode, exc)
        return
    log.warning("%s %s was mode %04o, readable by others: tightened to %04o", what, path, mode, new)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the directory itself 0700; tighten it if it
    exists with group or other permissions."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # another process made it meanwhile
            pass
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is subject to the umask; only ever narrower
    tighten(path, what="directory")
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is a valid, empty
    SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def write_private_file(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` with mode 0600, put in place whole: written to a new
    temporary file beside it (created 0600 and exclusively, so a stale one left with a looser
    mode is never reused), then renamed over ``path``. Readers see the old file or the new one,
    never part of either, and never a moment at a looser mode."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    for pattern in DATA_DIR_SECRETS:
        for path in sorted(data_dir.glob(pattern)):
            tighten(path, what="secret file")
