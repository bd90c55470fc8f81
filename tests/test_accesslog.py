"""The gateway's access lines (gateway/accesslog.py): made without a LogRecord when the logger
is configured as shipped, written in batches of whole lines, through ``logging`` otherwise,
and none lost when the gateway stops."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import select
import subprocess
import sys
import uuid
from pathlib import Path

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.urls import re_path

from gateway import accesslog
from gateway.accesslog import FLUSH_LINES, AccessLog
from gateway.config import GatewayConfig
from gateway.http import GatewayHttp
from gateway.process import Gateway
from gateway.relay import Relay
from gateway.sources import NewSnapshot
from gateway.tests.test_sources import HandedSource, _handshake_status
from gateway_contract.snapshot import Snapshot
from portal.jsonlog import JsonFormatter
from testsupport.snapshots import open_and_secure_apis
from testsupport.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")


class Writes(io.StringIO):
    """A stream that keeps each write apart, and says when the first came."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.writes.append(text)
        self.written.set()
        return super().write(text)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in "".join(self.writes).splitlines()]


def _shipped_logger(stream: io.StringIO) -> logging.Logger:
    """A logger set up as settings.LOGGING sets up ``tidegate.access``, writing to ``stream``."""
    conf = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    assert settings.LOGGING["handlers"]["access"]["class"] == "logging.StreamHandler"
    logger = logging.getLogger(f"tidegate.access.test-{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**conf))
    logger.addHandler(handler)
    return logger


def _without_time(lines: list[dict]) -> list[dict]:
    for line in lines:
        assert TIME.fullmatch(line.pop("time")), line
    return lines


def test_lines_wait_briefly_then_go_out_together_as_the_handler_would_write_them():
    stream = Writes()
    logger = _shipped_logger(stream)

    async def main() -> None:
        log = AccessLog(logger)
        for n in range(3):
            log.write("connection", {"event": "connection", "api": f"ä{n}", "status": 101, "duration_s": 0.25})
        assert stream.writes == []  # no write system call per line
        await asyncio.wait_for(stream.written.wait(), 10)

    asyncio.run(main())
    assert len(stream.writes) == 1
    assert _without_time(stream.lines()) == [
        {"level": "INFO", "logger": logger.name, "message": "connection"}
        | {"event": "connection", "api": f"ä{n}", "status": 101, "duration_s": 0.25}
        for n in range(3)
    ]
    assert "\\u00e4" in stream.writes[0]  # the formatter's own escaping: the lines stay ASCII


def _full_batch(stream: Writes) -> None:
    """A full batch of numbered lines of some 300 characters, on a running loop; written
    before the loop turns."""

    async def main() -> None:
        log = AccessLog(_shipped_logger(stream))
        for n in range(FLUSH_LINES):
            log.write("refused", {"event": "handshake", "path": f"/{n}/" + "p" * 200, "status": 404})
        assert stream.writes

    asyncio.run(main())


def test_a_full_batch_goes_out_at_once_in_writes_a_pipe_keeps_whole():
    stream = Writes()
    _full_batch(stream)
    assert len(stream.writes) > 1
    for chunk in stream.writes:
        assert len(chunk.encode()) <= select.PIPE_BUF and chunk.endswith("\n")
    assert [line["path"].split("/")[1] for line in stream.lines()] == [str(n) for n in range(FLUSH_LINES)]


def test_a_filter_sends_each_line_through_logging_after_those_waiting():
    stream = Writes()
    logger = _shipped_logger(stream)
    seen: list[logging.LogRecord] = []

    async def main() -> None:
        log = AccessLog(logger)
        log.write("connection", {"event": "connection", "n": 1})
        logger.addFilter(lambda record: seen.append(record) or True)
        log.write("connection", {"event": "connection", "n": 2})
        assert len(stream.writes) == 2  # both at once, the waiting one first

    asyncio.run(main())
    assert [line["n"] for line in stream.lines()] == [1, 2]
    assert [record.n for record in seen] == [2]  # type: ignore[attr-defined]


def test_another_handler_gets_records():
    stream = Writes()
    logger = _shipped_logger(stream)
    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(capture)
    AccessLog(logger).write("refused", {"event": "handshake", "status": 401})
    assert [(r.getMessage(), r.status) for r in records] == [("refused", 401)]  # type: ignore[attr-defined]
    assert [line["status"] for line in stream.lines()] == [401]


def test_without_a_running_loop_a_line_is_written_at_once():
    stream = Writes()
    AccessLog(_shipped_logger(stream)).write("refused", {"event": "handshake", "status": 403})
    assert [line["status"] for line in stream.lines()] == [403]


async def test_the_gateway_writes_the_waiting_lines_when_it_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(accesslog, "FLUSH_SECONDS", 3600.0)  # only the stop can write it
    stream = Writes()
    monkeypatch.setattr(accesslog.ACCESS, "logger", _shipped_logger(stream))
    source = HandedSource(
        NewSnapshot(Snapshot(version=1, environments=("Default",), apis=open_and_secure_apis("ws://127.0.0.1:9")))
    )
    gateway = Gateway(
        GatewayConfig(
            portal_url=f"http://127.0.0.1:{free_port()}", token="t", testkey_path=tmp_path / "k.json", analytics=False
        ),
        source=source,
    )
    app = ProtocolTypeRouter({"websocket": URLRouter([re_path(r"", Relay(gateway))]), "http": GatewayHttp(gateway)})
    await gateway.ensure_started()
    try:
        assert await _handshake_status(app, "/gone/1.0.0/ws") == 404
        assert stream.writes == []
    finally:
        await gateway.stop()
    assert [(line["message"], line["path"], line["status"]) for line in stream.lines()] == [
        ("refused", "/gone/1.0.0/ws", 404)
    ]


def test_with_propagation_the_handlers_above_get_each_line():
    stream = Writes()
    logger = _shipped_logger(stream)
    logger.propagate = True
    records: list[logging.LogRecord] = []
    above = logging.Handler()
    above.emit = records.append  # type: ignore[method-assign]
    parent = logging.getLogger(logger.name.rsplit(".", 1)[0])
    parent.addHandler(above)
    try:
        AccessLog(logger).write("connection", {"event": "connection", "status": 101})
    finally:
        parent.removeHandler(above)
    assert [r.getMessage() for r in records] == ["connection"]
    assert [line["status"] for line in stream.lines()] == [101]


class Breaks(Writes):
    """A stream whose second write fails (EAGAIN on a full pipe, say)."""

    def write(self, text: str) -> int:
        if len(self.writes) == 1 and not getattr(self, "broke", False):
            self.broke = True
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return super().write(text)


def test_a_failed_write_loses_its_own_lines_only_and_says_how_many(caplog):
    stream = Breaks()
    with caplog.at_level(logging.ERROR, logger="tidegate.gateway"):
        _full_batch(stream)
    written = [int(line["path"].split("/")[1]) for line in stream.lines()]
    lost = FLUSH_LINES - len(written)
    assert len(stream.writes) > 1 and 0 < lost < FLUSH_LINES / 2
    assert written == sorted(written)  # the chunks before and after the broken one
    assert f"{lost} access line(s) could not be written" in caplog.text


def test_lines_waiting_when_a_loop_closed_do_not_hold_up_the_next_loops():
    stream = Writes()
    log = AccessLog(_shipped_logger(stream))

    async def one(n: int) -> None:
        log.write("connection", {"event": "connection", "n": n})

    asyncio.run(one(1))  # its loop closes with the line waiting and the timer pending

    async def two() -> None:
        log.write("connection", {"event": "connection", "n": 2})
        await asyncio.wait_for(stream.written.wait(), 10)

    asyncio.run(two())
    assert [line["n"] for line in stream.lines()] == [1, 2]


def test_a_formatter_that_fails_leaves_the_line_to_logging():
    stream = Writes()
    logger = _shipped_logger(stream)
    formatter = logger.handlers[0].formatter

    def broken(*args: object) -> str:
        raise RuntimeError("a formatter's bug")

    formatter.line = broken  # type: ignore[union-attr]
    AccessLog(logger).write("refused", {"event": "handshake", "status": 404})
    assert [line["status"] for line in stream.lines()] == [404]  # through format(), at once


def test_the_shipped_settings_take_the_short_way(tmp_path):
    """Settings as a gateway process reads them: the access line skips the LogRecord."""
    code = (
        "import django; django.setup()\n"
        "from gateway.accesslog import ACCESS\n"
        "print(ACCESS._direct_handler() is not None)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "TIDEGATE_DEBUG": "1",
        "TIDEGATE_DATA_DIR": str(tmp_path),
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
