"""Server logs as JSON lines (attributionhub/logs.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import orjson
import pytest

from attributionhub.logs import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    out = io.StringIO()
    configure_logging(stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_time_level_logger_message_and_its_fields(
    stream: io.StringIO,
) -> None:
    logging.getLogger("attributionhub.test").warning(
        "stored %d events", 3, extra={"event": "ingest", "site_id": "s1"}
    )
    (line,) = lines(stream)
    assert line == {
        "time": line["time"],
        "level": "warning",
        "logger": "attributionhub.test",
        "message": "stored 3 events",
        "event": "ingest",
        "site_id": "s1",
    }
    assert isinstance(line["time"], str)
    stamp = datetime.fromisoformat(line["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(stamp.tzinfo) - stamp) < timedelta(minutes=1)


def test_a_multi_line_message_stays_on_one_line(stream: io.StringIO) -> None:
    logging.getLogger("x").info("first\nsecond \x00 \ud800")
    assert len(stream.getvalue().splitlines()) == 1
    assert lines(stream)[0]["message"] == "first\nsecond \x00 \ufffd"


def test_the_traceback_rides_in_the_line_when_there_is_one(stream: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    (line,) = lines(stream)
    assert line["message"] == "failed"
    assert isinstance(line["traceback"], str)
    assert "ValueError: boom" in line["traceback"]


def test_a_line_without_an_exception_has_no_traceback(stream: io.StringIO) -> None:
    logging.getLogger("x").error("refused")
    assert "traceback" not in lines(stream)[0]


def test_configuring_twice_still_writes_each_record_once(stream: io.StringIO) -> None:
    configure_logging(stream=stream)
    logging.getLogger("x").info("once")
    assert len(lines(stream)) == 1
