"""Standalone mode's side of the contract: an API project archive (the ``apictl`` layout)
read into the ``ApiConfig`` a gateway enforces.

The gateway keeps the archives deployed to it and asks an ``ArchiveReader`` what each one
means; the reader is the control plane's (``tidegate.snapshot.archives.api_from_archive``:
AsyncAPI validation, endpoints), handed to the gateway by the ``standalone`` command.
"""

from __future__ import annotations

from typing import Protocol

from gateway_contract.snapshot import ApiConfig


class ArchiveRefused(Exception):
    """An archive that cannot be deployed: ``status`` (400, 409, ...), ``message`` and
    ``description`` for the adapter's JSON error body."""

    def __init__(self, description: str, *, status: int = 400, message: str = "Bad Request"):
        super().__init__(description)
        self.description = description
        self.status = status
        self.message = message


class ArchiveReader(Protocol):
    def __call__(self, content: bytes, /) -> ApiConfig:
        """The API an archive holds, or :class:`ArchiveRefused` saying why not."""
        ...
