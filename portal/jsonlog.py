"""The JSON log formatter (settings.LOGGING's "json": the access lines of the gateway and the portal).

python-json-logger's ``JsonFormatter`` with a shorter path for the common record (a text
message with ``extra`` fields, no exception, no stack): the same fields in the same order,
the same encoder, the same text. Per line it skips building a fresh ``JSONEncoder`` (what
``json.dumps(cls=...)`` does on every call), the general field merging for options this
configuration does not use, and a ``strftime`` per line (the date part of ``asctime`` is
kept for the second it was made in). Anything else (an exception, a stack, a dict message,
the options the short path leaves out) goes through the library's own ``format``.

``line`` makes the same text from the fields themselves, with no ``LogRecord``: the gateway
writes its access line, one per connection, that way (``gateway/accesslog.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter as _LibraryFormatter


class JsonFormatter(_LibraryFormatter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._short = (
            not self.defaults
            and not self.static_fields
            and not self.timestamp
            and not self.rename_fields_keep_missing
            and self.json_serializer is json.dumps
            and type(self).process_log_record is _LibraryFormatter.process_log_record
            and type(self).add_fields is _LibraryFormatter.add_fields
            and type(self).formatTime is logging.Formatter.formatTime
            and self.datefmt is None
            and self.converter is time.localtime
        )
        self._encoder = (
            self.json_encoder(
                default=self.json_default,
                indent=self.json_indent,
                ensure_ascii=self.json_ensure_ascii,
            )
            if self.json_encoder is not None
            else json.JSONEncoder(
                default=self.json_default, indent=self.json_indent, ensure_ascii=self.json_ensure_ascii
            )
        )
        self._required = tuple((self._get_rename(name), name) for name in self._required_fields)
        self._uses_asctime = "asctime" in self._required_fields
        # line(): the four attributes it knows, and ASCII lines (gateway/accesslog.py writes
        # them in writes of at most PIPE_BUF bytes, counted as characters).
        self._line_ok = (
            self._short
            and self.json_ensure_ascii
            and {f for _, f in self._required} <= {"asctime", "levelname", "name", "message"}
        )
        self._second: tuple[int, str] = (-1, "")  # one tuple: read and replaced whole, thread-safe

    def _asctime(self, created: float, msecs: float) -> str:
        """``logging.Formatter.formatTime`` without a date format, its date part made once a second."""
        second = int(created)
        cached, text = self._second
        if second != cached:
            text = time.strftime(self.default_time_format, self.converter(created))
            self._second = (second, text)
        return self.default_msec_format % (text, msecs)

    def format(self, record: logging.LogRecord) -> str:
        if not self._short or record.exc_info or record.exc_text or record.stack_info or isinstance(record.msg, dict):
            return super().format(record)
        record.message = record.getMessage()
        if self._uses_asctime:
            record.asctime = self._asctime(record.created, record.msecs)
        data = record.__dict__
        return self._text({name: data.get(field) for name, field in self._required}, data)

    def line(self, name: str, levelno: int, created: float, message: str, fields: Mapping[str, object]) -> str | None:
        """What ``format`` makes of a record of logger ``name`` at ``levelno`` made at
        ``created`` (``time.time()``), with the text ``message`` (no arguments) and ``extra``
        ``fields``, without making the record: the gateway's access line, one per connection
        (``gateway/accesslog.py``). None when only a record will do: an option the short path
        leaves out, ``ensure_ascii`` off, or a format naming a record attribute other than these
        four."""
        if not self._line_ok:
            return None
        known = {"name": name, "levelname": logging.getLevelName(levelno), "message": message}
        if self._uses_asctime:
            known["asctime"] = self._asctime(created, (created - int(created)) * 1000)
        return self._text({out: known[field] for out, field in self._required}, fields)

    def _text(self, out: dict[str, object], extra: Mapping[str, object]) -> str:
        skip, rename = self._skip_fields, self.rename_fields
        for key, value in extra.items():
            if key not in skip and not (hasattr(key, "startswith") and key.startswith("_")):
                out[rename.get(key, key)] = value
        return self.prefix + self._encoder.encode(out)
