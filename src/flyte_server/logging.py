"""Structured server logs: one line per event, as ``key=value`` pairs (default) or JSON.

Fields passed with ``extra={...}`` become keys of the line, so
``logger.info("trigger fired", extra={"run": "r1"})`` prints
``ts=2024-01-01T12:00:00.000Z level=info logger=flyte_server.scheduler msg="trigger fired" run=r1``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "JSONFormatter", "KeyValueFormatter", "configure_logging"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
"""The accepted ``--log-level`` values."""
LOG_FORMATS = ("text", "json")
"""``text`` (key=value pairs) or ``json`` (one object per line)."""

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}
_LOGGERS = ("flyte_server", "uvicorn", "uvicorn.error", "uvicorn.access")
_HANDLER_MARK = "_flyte_server_handler"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    moment = datetime.fromtimestamp(record.created, tz=timezone.utc)
    fields: dict[str, Any] = {
        "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and not any(char in text for char in ' "=\n\t'):
        return text
    return json.dumps(text)


class KeyValueFormatter(logging.Formatter):
    """``key=value`` pairs on one line; values with spaces or quotes are JSON-quoted.

    Example:
        >>> record = logging.LogRecord("flyte_server", logging.INFO, "", 0, "started", (), None)
        >>> record.port = 8090
        >>> KeyValueFormatter().format(record).split(" ", 1)[1]
        'level=info logger=flyte_server msg=started port=8090'
    """

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_text(value)}" for key, value in _fields(record).items())


class JSONFormatter(logging.Formatter):
    """One JSON object per line.

    Example:
        >>> record = logging.LogRecord("flyte_server", logging.INFO, "", 0, "started", (), None)
        >>> json.loads(JSONFormatter().format(record))["msg"]
        'started'
    """

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def configure_logging(level: str = "info", log_format: str = "text", *, stream: TextIO | None = None) -> None:
    """Send the server's (and uvicorn's) logs to ``stream`` (stderr) as structured lines.

    Calling it again replaces the handler it installed before.

    Raises:
        ValueError: an unknown level or format.

    Example:
        >>> configure_logging("warning", "json")  # doctest: +SKIP
    """
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else KeyValueFormatter())
    setattr(handler, _HANDLER_MARK, True)
    numeric = getattr(logging, level.upper())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(old)
        if name in ("flyte_server", "uvicorn"):
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(numeric)
    # Access logs are noise at info level: one line per RPC.
    logging.getLogger("uvicorn.access").setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
