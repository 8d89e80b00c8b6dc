"""Checks every request gets before service code runs, so SQLite and PostgreSQL see the same input.

PostgreSQL refuses text with a NUL character (SQLite stores it), so a NUL byte in any string of a
request is ``INVALID_ARGUMENT`` on both, before it can reach a statement (or a batch of other
requests' writes). Integer inputs that arrive as text (page tokens, filter values) are range
checked where they are parsed (:func:`parse_bounded_int`).
"""

from __future__ import annotations

from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from flyte_server.validation import RequestCheck

__all__ = ["INT64_MAX", "RequestTextInterceptor", "nul_field", "parse_bounded_int"]


INT64_MAX = 2**63 - 1
"""The largest integer either database stores in an integer column."""

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_GROUP = FieldDescriptor.TYPE_GROUP


def parse_bounded_int(text: str, *, low: int = 0, high: int = INT64_MAX) -> int | None:
    """``text`` as a decimal integer within ``[low, high]``, or ``None`` when it is not one.

    Only ASCII digits (with an optional leading minus when ``low`` allows it) are accepted, so
    ``"1_000"``, ``" 7"`` and ``"²"`` are refused rather than half-understood.

    Example:
        >>> parse_bounded_int("42"), parse_bounded_int("99999999999999999999"), parse_bounded_int("x")
        (42, None, None)
    """
    digits = text[1:] if text.startswith("-") and low < 0 else text
    if not digits or len(digits) > 19 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def nul_field(message: Message, prefix: str = "") -> str | None:
    """The path of the first string field of ``message`` (nested, repeated and map fields included) with a NUL.

    Example:
        >>> from flyteidl2.secret import payload_pb2
        >>> nul_field(payload_pb2.GetSecretRequest(id={"name": "a\\x00b"}))
        'id.name'
    """
    for field, value in message.ListFields():
        kind = _KINDS.get(field)
        if kind is None:
            kind = _KINDS[field] = _kind(field)
        if kind == _SKIP:
            continue
        path = f"{prefix}{field.name}"
        found: str | None = None
        if kind == _TEXT:
            found = path if "\x00" in value else None
        elif kind == _TEXTS:
            found = path if any("\x00" in item for item in value) else None
        elif kind == _NESTED:
            found = nul_field(value, f"{path}.")
        elif kind == _NESTED_LIST:
            found = next((hit for item in value if (hit := nul_field(item, f"{path}.")) is not None), None)
        else:
            found = _nul_in_map(field, value, path)
        if found is not None:
            return found
    return None


_SKIP, _TEXT, _TEXTS, _NESTED, _NESTED_LIST, _MAP = range(6)
_KINDS: dict[FieldDescriptor, int] = {}


def _kind(field: FieldDescriptor) -> int:
    repeated = _is_repeated(field)
    if field.type == _STRING:
        return _TEXTS if repeated else _TEXT
    if field.type not in (_MESSAGE, _GROUP):
        return _SKIP
    if field.message_type.GetOptions().map_entry:
        return _MAP
    return _NESTED_LIST if repeated else _NESTED


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf 6+; older versions have only ``label``
    if repeated is not None:
        return bool(repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)


def _nul_in_map(field: FieldDescriptor, mapping: Any, path: str) -> str | None:
    value_field = field.message_type.fields_by_name["value"]
    for key, item in mapping.items():
        if isinstance(key, str) and "\x00" in key:
            return f"{path}[key]"
        if value_field.type == _STRING and "\x00" in item:
            return f"{path}[{key!r}]"
        if value_field.type == _MESSAGE and (hit := nul_field(item, f"{path}[{key!r}].")) is not None:
            return hit
    return None


class RequestTextInterceptor(RequestCheck):
    """A connectrpc interceptor that answers ``INVALID_ARGUMENT`` for a request with a NUL in any string.

    Example:
        >>> app = SecretServiceASGIApplication(service, interceptors=[RequestTextInterceptor()])  # doctest: +SKIP
    """

    def _check(self, request: Any) -> None:
        if not isinstance(request, Message):
            return
        # A NUL in a string is a 0 byte in the binary form; most requests have none, and then the
        # walk over every field (tens of microseconds per nested message) is skipped.
        if b"\x00" not in request.SerializeToString():
            return
        if (path := nul_field(request)) is not None:
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"invalid {request.DESCRIPTOR.name}: {path} contains a NUL character"
            )
