"""Structured server logs: key=value or JSON lines carrying the fields passed with ``extra=``."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from flyte_server.logging import configure_logging


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    names = ("flyte_server", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in names}
    yield
    for name, (level, propagate) in saved.items():
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_flyte_server_handler", False)]:
            logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def test_key_value_lines_quote_what_needs_quoting(restore_loggers: None) -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    logging.getLogger("flyte_server.test").info("trigger fired", extra={"run": "r1", "note": 'say "hi"', "n": 3})
    logging.getLogger("flyte_server.test").debug("hidden at info")
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("ts=") and line.endswith('msg="trigger fired" run=r1 note="say \\"hi\\"" n=3')
    assert " level=info logger=flyte_server.test " in line


def test_json_lines_carry_fields_and_tracebacks(restore_loggers: None) -> None:
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    configure_logging("debug", "json", stream=stream)  # again: still one handler, one line per record
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("flyte_server.test").exception("failed", extra={"trigger": "t"})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert (record["level"], record["msg"], record["trigger"]) == ("error", "failed", "t")
    assert "ValueError: boom" in record["exception"]


def test_unknown_levels_and_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud")
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")
