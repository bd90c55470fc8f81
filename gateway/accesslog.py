"""The gateway's access lines (the ``tidegate.access`` logger): one per connection and per
refused handshake, never a credential, written in batches.

Through ``logging`` a line costs a ``LogRecord``, the handler chain and a ``write`` system
call of its own: a sixth of the instructions of a handshake (callgrind; about 50 µs of
550 in alternating runs with the access logger on and at WARNING). When
the logger is configured as settings.LOGGING ships it (one ``StreamHandler`` whose formatter
can make the line from the fields, ``portal.jsonlog.JsonFormatter.line``; no filters), the
line is made directly, text for text what the handler would have written, and lines are
written together: when ``FLUSH_LINES`` are waiting, or ``FLUSH_SECONDS`` after the first,
and when the gateway stops (``flush``; also at exit); with no running event loop, at once.
Any other configuration (another handler, a filter, a formatter without ``line``) gets each
line through ``logging`` at once, as before.

The gateway imports nothing of the portal: the formatter is found on the handler the
settings made, by what it offers.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import select
import time
from typing import Any

# A line waits at most this long, or until this many are waiting (nginx's ``access_log ...
# buffer= flush=`` does the same, in bytes and seconds).
FLUSH_SECONDS = 0.05
FLUSH_LINES = 64

access_log = logging.getLogger("tidegate.access")
log = logging.getLogger("tidegate.gateway")


class AccessLog:
    """The lines of one logger. Called from the event loop's thread only (the relay's): the
    waiting lines are not guarded by a lock."""

    def __init__(self, logger: logging.Logger = access_log):
        self.logger = logger
        self._lines: list[str] = []
        self._handler: logging.StreamHandler[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def write(self, message: str, fields: dict[str, object]) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._direct_handler()
        line = None
        if handler is not None:
            try:
                line = handler.formatter.line(logger.name, logging.INFO, time.time(), message, fields)  # type: ignore[union-attr]
            except Exception:  # the record's way below: logging reports what went wrong
                line = None
        if line is None:
            self.flush()  # lines keep their order
            logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None, extra=fields))
            return
        if self._handler is not handler:
            self.flush()
            self._handler = handler
        self._lines.append(line)
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._timer is None or self._timer_loop is not loop:  # (a loop closed with lines waiting)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)
            self._timer_loop = loop

    def _direct_handler(self) -> logging.StreamHandler[Any] | None:
        """The logger's one handler, when a line may skip ``logging`` and go to it: no other
        handler would get the record, here or above (``propagate``), and nothing filters it."""
        logger = self.logger
        handlers = logger.handlers
        if len(handlers) != 1 or logger.filters or logger.propagate:
            return None
        handler = handlers[0]
        if (
            type(handler) is not logging.StreamHandler
            or handler.filters
            or handler.level > logging.INFO
            or not callable(getattr(handler.formatter, "line", None))
        ):
            return None
        return handler

    def flush(self) -> None:
        """Write the waiting lines to the handler's stream (and flush that)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, handler = self._lines, self._handler
        if not lines or handler is None:
            return
        self._lines = []
        lost = 0
        handler.acquire()
        try:
            for chunk, count in _chunks(lines, handler.terminator):
                try:
                    handler.stream.write(chunk)
                    handler.flush()
                except Exception:  # as logging's own emit: a broken stream does not stop the gateway
                    lost += count
        finally:
            handler.release()
        if lost:
            log.error("%d access line(s) could not be written to the access log's stream", lost)


def _chunks(lines: list[str], end: str) -> list[tuple[str, int]]:
    """The lines in as few writes as keep each whole, with how many each holds: none longer
    than ``PIPE_BUF`` unless one line is. On a pipe (a service manager's, a container's) the
    kernel writes up to ``PIPE_BUF`` bytes at once, so the lines of two workers never
    interleave, as when each line had a write of its own. The lines are ASCII (``line`` is
    used only with ``ensure_ascii``), so their length is their size."""
    chunks: list[tuple[str, int]] = []
    part: list[str] = []
    size = 0
    for line in lines:
        n = len(line) + len(end)
        if part and size + n > select.PIPE_BUF:
            chunks.append((end.join(part) + end, len(part)))
            part, size = [], 0
        part.append(line)
        size += n
    if part:
        chunks.append((end.join(part) + end, len(part)))
    return chunks


ACCESS = AccessLog()
atexit.register(ACCESS.flush)
