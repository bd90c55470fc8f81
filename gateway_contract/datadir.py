"""The data directory both sides share (``TIDEGATE_DATA_DIR``): the modes that keep its
secrets to the account Tidegate runs as, and which of its files are the gateway's secrets.

The gateway writes its files 0600 in 0700 directories (``private_dir``); the portal's start
(``portal.filemodes.secure_data_dir``, in every process) tightens anything found looser,
the gateway's ``GATEWAY_SECRETS`` included.
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
# Secrets the gateway writes into the data directory (glob patterns, relative to it).
GATEWAY_SECRETS = (
    "tls/gateway.key",
    "gateway/testkey-jwk.json",
    "gateway/backend-jwt-jwk.json",
    "gateway/snapshot-*.json",
)


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
