"""The JSON access lines (settings.LOGGING's "json" formatter, portal/jsonlog.py) are the lines
python-json-logger writes, field for field and character for character, whatever the record."""

import datetime
import logging
import sys

from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonjsonlogger.json import JsonFormatter as LibraryFormatter

from portal.jsonlog import JsonFormatter


def _pair():
    conf = {k: v for k, v in django_settings.LOGGING["formatters"]["json"].items() if k != "()"}
    assert django_settings.LOGGING["formatters"]["json"]["()"] == "portal.jsonlog.JsonFormatter"
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


_RESERVED = set(vars(logging.LogRecord("n", logging.INFO, "", 0, "", (), None))) | {"message", "asctime"}
_values = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(st.text(min_size=1).filter(lambda k: k not in _RESERVED), _values, max_size=8),
    created=st.floats(min_value=0, max_value=4_000_000_000),
    message=st.text(),
)
def test_a_line_made_from_the_fields_is_the_line_of_the_record(fields, created, message):
    """The gateway's access lines skip the LogRecord (JsonFormatter.line): same text."""
    library, ours = _pair()
    record = _record(message, **fields)  # no arguments: the message is the text as it is
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    assert ours.line("tidegate.access", logging.INFO, created, message, fields) == library.format(record)


def test_a_format_naming_other_attributes_or_writing_other_than_ascii_makes_no_line():
    conf = {k: v for k, v in django_settings.LOGGING["formatters"]["json"].items() if k != "()"}
    assert JsonFormatter(**conf).line("tidegate.access", logging.INFO, 1.5, "x", {}) is not None
    other = JsonFormatter(**{**conf, "fmt": "%(asctime)s %(process)d %(message)s"})
    assert other.line("tidegate.access", logging.INFO, 1.5, "x", {}) is None
    unicode = JsonFormatter(**conf, json_ensure_ascii=False)
    assert unicode.line("tidegate.access", logging.INFO, 1.5, "x", {}) is None
