"""The JSON access lines (settings.LOGGING's "json" formatter, portal/jsonlog.py) are the lines
python-json-logger writes, field for field and character for character, whatever the record."""

import datetime
import logging
import sys

from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as LibraryFormatter

from portal.jsonlog import JsonFormatter


def _pair():
    conf = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    assert settings.LOGGING["formatters"]["json"]["()"] == "portal.jsonlog.JsonFormatter"
    return LibraryFormatter(**conf), JsonFormatter(**conf)


def _record(msg, args=(), exc_info=None, **extra):
    logger = logging.getLogger("tidegate.access")
    return logger.makeRecord(logger.name, logging.INFO, "relay.py", 1, msg, args, exc_info, extra=extra)


def test_lines_match_python_json_logger():
    library, ours = _pair()
    try:
        raise ValueError("boom")
    except ValueError:
        failure = sys.exc_info()
    records = [
        _record(
            "connection",
            event="connection",
            api="a1",
            application="Ünïcode app ✓",
            topic="/echo",
            path="/ctx/1.0/echo",
            status=101,
            duration_s=0.123,
            frames_in=3,
            frames_out=4,
            close_code=None,
        ),
        _record("refused", event="handshake", path="/x", status=401, code=900901, api=None),
        _record("%s and %d", ("args", 2)),
        _record({"as": "dict", "n": 1}),
        _record("with failure", exc_info=failure),
        _record("odd values", when=datetime.datetime(2026, 1, 2, 3, 4, 5), tags={"a", "b"}, _private=1),
    ]
    for record in records:
        assert ours.format(record) == library.format(record)


def test_time_follows_the_clock_across_seconds():
    library, ours = _pair()
    for created in (1_700_000_000.25, 1_700_000_000.75, 1_700_000_001.5, 1_700_000_000.5):
        record = _record("tick", event="x")
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == library.format(record)
