"""Helpers the admin services share: Connect errors, page tokens, timestamps."""

from __future__ import annotations

from datetime import datetime, timezone

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf import timestamp_pb2

from flyte_server.request_checks import parse_bounded_int

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "invalid_argument",
    "not_found",
    "page_size",
    "parse_int_token",
    "timestamp",
]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def not_found(message: str) -> ConnectError:
    """A ``NOT_FOUND`` error to raise."""
    return ConnectError(Code.NOT_FOUND, message)


def invalid_argument(message: str) -> ConnectError:
    """An ``INVALID_ARGUMENT`` error to raise."""
    return ConnectError(Code.INVALID_ARGUMENT, message)


def page_size(limit: int) -> int:
    """The page size for a request's ``limit`` (0 means the default)."""
    if limit <= 0:
        return DEFAULT_PAGE_SIZE
    return min(limit, MAX_PAGE_SIZE)


def parse_int_token(token: str) -> int:
    """The position a page token (``""`` or a row id) continues after.

    Raises:
        ConnectError: ``INVALID_ARGUMENT`` for a token this server did not hand out.
    """
    if not token:
        return 0
    position = parse_bounded_int(token)
    if position is None:
        raise invalid_argument(f"invalid page token {token[:40]!r}; pass the token of the previous page")
    return position


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """``moment`` as a protobuf Timestamp (naive datetimes from SQLite are UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc).replace(tzinfo=None))
    return stamp
