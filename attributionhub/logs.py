"""Server logs as JSON lines (docs/deployment.md, "Logs"): one object per line on stderr,
with ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the record's own fields
(``event``, ``status``, ``site_id``, ...), the ``request_id`` and ``client`` of the request
being handled, and ``traceback`` for records that carry an exception (logged only where
the server is at fault).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Final

import orjson

from adapters.http.access_log import RequestContextFilter

# The attributes every LogRecord has; anything else on a record came through ``extra``.
_STANDARD: Final = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            # default=str: a field of an unexpected type must not lose the whole line.
            return orjson.dumps(line, default=str).decode()
        except orjson.JSONEncodeError:
            # A lone surrogate (from bytes a client sent that were not UTF-8) cannot be
            # written as UTF-8: it becomes U+FFFD rather than losing the line.
            return orjson.dumps(_without_surrogates(line), default=str).decode()


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _without_surrogates(line: dict[str, object]) -> dict[str, object]:
    return {name: _clean(value) for name, value in line.items()}


def _clean(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    return _SURROGATE.sub("\ufffd", value if isinstance(value, str) else str(value))


class _JsonLinesHandler(logging.StreamHandler[IO[str]]):
    """The handler ``configure_logging`` installs, told apart from any other."""


def configure_logging(*, level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Send every record of the process (ours, aiohttp's, asyncio's) to ``stream`` as
    JSON lines. Replaces the handler an earlier call installed, so calling it twice
    writes each record once."""
    handler = _JsonLinesHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _JsonLinesHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
