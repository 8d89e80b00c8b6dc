"""Request validation: every Connect request is checked against its flyteidl2 ``buf.validate`` rules.

The rules are compiled once per message type (protovalidate caches them in the validator), so a
check costs microseconds. A request that breaks a rule is answered ``INVALID_ARGUMENT`` with a
one-line message naming the fields, before any service code runs.

The annotations are stricter than Flyte's backend in a few places where real clients send
empty values; those rules are relaxed on purpose, and only those (``docs/protocol-leniency.md``
holds the audit of every rule against what both SDKs send):

* string rules on an organization (``org``, ``organization``, ``org_id.name``): the Flyte 2 SDK
  sends an empty org from a laptop (PROTOCOL.md §1), and this server ignores org everywhere;
* :data:`RELAXED_RULES`: single fields whose rule the SDKs break on ordinary programs (an empty
  ``inputs_hash`` for a task without inputs), which the server does not rely on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import protovalidate
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from google.protobuf import json_format, text_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message

__all__ = ["RELAXED_RULES", "StrictCodec", "ValidationInterceptor", "reject_malformed_bodies", "validation_error"]

REQ = TypeVar("REQ")
RES = TypeVar("RES")

logger = logging.getLogger(__name__)

_UNCHECKABLE: set[str] = set()
_IGNORED_FIELDS = frozenset({"org", "organization", "org_id"})
_MAX_LISTED = 3

RELAXED_RULES: dict[str, frozenset[str]] = {
    # Both SDKs hash an empty input set to "" and send it (UploadInputs answers it too); the engine
    # computes the hash itself from the stored inputs when it is empty.
    "flyteidl2.common.OffloadedInputData.inputs_hash": frozenset({"string.min_len"}),
}
"""Rules not enforced, by the declaring field (``<message full name>.<field>``) and rule id."""


def _field_path(violation: protovalidate.Violation) -> str:
    parts = []
    field = violation.proto.field
    for element in field.elements if field is not None else ():
        part = element.field_name
        subscript = getattr(element, "subscript", None)  # a oneof of index / map keys, when present
        if subscript is not None:
            value = subscript.value
            part += f"[{value!r}]" if isinstance(value, str) else f"[{value}]"
        parts.append(part)
    return ".".join(parts)


def _declaring_field(root: Descriptor, names: list[str]) -> str | None:
    """``<message>.<field>`` of the last element of a violation's field path, from the request type."""
    descriptor: Descriptor | None = root
    for name in names[:-1]:
        field = descriptor.fields_by_name.get(name) if descriptor is not None else None
        if field is None or field.message_type is None:
            return None
        descriptor = field.message_type
        if descriptor.GetOptions().map_entry:  # a map's path goes on through its value type
            descriptor = descriptor.fields_by_name["value"].message_type
    if descriptor is None or names[-1] not in descriptor.fields_by_name:
        return None
    return f"{descriptor.full_name}.{names[-1]}"


def _ignored(violation: protovalidate.Violation, root: Descriptor) -> bool:
    field = violation.proto.field
    names = [element.field_name for element in (field.elements if field is not None else ())]
    rule = str(violation.proto.rule_id)
    if any(name in _IGNORED_FIELDS for name in names) and rule.startswith("string."):
        return True
    if not names:
        return False
    declared = _declaring_field(root, names)
    return declared is not None and rule in RELAXED_RULES.get(declared, frozenset())


def validation_error(message: Message, validator: protovalidate.Validator | None = None) -> str | None:
    """A one-line description of what is wrong with ``message``, or ``None`` when it is valid.

    Example:
        >>> from flyteidl2.secret import payload_pb2
        >>> validation_error(payload_pb2.GetSecretRequest())
        'invalid GetSecretRequest: id: value is required'
    """
    try:
        violations = (validator or _VALIDATOR).collect_violations(message)
    except (protovalidate.CompilationError, protovalidate.EvaluationError) as e:
        # A rule this protovalidate version cannot evaluate is the server's problem, not the
        # client's: let the request through (the services check what they rely on) and say so once.
        name = message.DESCRIPTOR.full_name
        if name not in _UNCHECKABLE:
            _UNCHECKABLE.add(name)
            logger.warning("cannot validate requests of this type", extra={"message_type": name, "error": str(e)})
        return None
    relevant = [violation for violation in violations if not _ignored(violation, message.DESCRIPTOR)]
    if not relevant:
        return None
    described = []
    for violation in relevant[:_MAX_LISTED]:
        path = _field_path(violation)
        text = violation.proto.message or violation.proto.rule_id
        described.append(f"{path}: {text}" if path else text)
    more = f" (and {len(relevant) - _MAX_LISTED} more)" if len(relevant) > _MAX_LISTED else ""
    return f"invalid {message.DESCRIPTOR.name}: {'; '.join(described)}{more}"


_VALIDATOR = protovalidate.Validator()

_SENSITIVE_FIELDS = frozenset(
    {"string_value", "binary_value", "client_secret", "secret", "password", "token", "api_key", "access_token"}
)
"""Fields never logged: secret values (``SecretSpec``) and credentials, wherever they are nested."""


def redacted(message: Message) -> Message:
    """A copy of ``message`` whose secret values and credentials read ``<redacted>`` (for logs).

    Example:
        >>> from flyteidl2.secret.definition_pb2 import SecretSpec
        >>> redacted(SecretSpec(string_value="hunter2")).string_value
        '<redacted>'
    """
    copy = type(message)()
    copy.CopyFrom(message)
    _redact(copy)
    return copy


def _redact(message: Message) -> None:
    for field, value in message.ListFields():
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in value if field.is_repeated else [value]:
                _redact(item)
        elif field.name in _SENSITIVE_FIELDS and not field.is_repeated:
            if field.type == field.TYPE_STRING:
                setattr(message, field.name, "<redacted>")
            elif field.type == field.TYPE_BYTES:
                setattr(message, field.name, b"<redacted>")


class RequestCheck:
    """A connectrpc server interceptor that checks each request (``_check`` raises ``ConnectError``).

    It covers unary and server-streaming methods, the only kinds Flyte clients call.
    """

    def _check(self, request: Any) -> None:
        raise NotImplementedError

    async def intercept_unary(
        self,
        call_next: Callable[[REQ, RequestContext[Any, Any]], Awaitable[RES]],
        request: REQ,
        ctx: RequestContext[Any, Any],
    ) -> RES:
        self._check(request)
        return await call_next(request, ctx)

    async def intercept_server_stream(
        self,
        call_next: Callable[[REQ, RequestContext[Any, Any]], AsyncIterator[RES]],
        request: REQ,
        ctx: RequestContext[Any, Any],
    ) -> AsyncIterator[RES]:
        self._check(request)
        async for response in call_next(request, ctx):
            yield response


class ValidationInterceptor(RequestCheck):
    """A connectrpc server interceptor that rejects invalid requests with ``INVALID_ARGUMENT``.

    Give it to every Connect ASGI application (``interceptors=[ValidationInterceptor()]``); it
    covers unary and server-streaming methods (the only kinds Flyte clients call).

    Example:
        >>> from flyteidl2.secret.secret_connect import SecretServiceASGIApplication
        >>> app = SecretServiceASGIApplication(service, interceptors=[ValidationInterceptor()])  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._validator = _VALIDATOR

    def _check(self, request: Any) -> None:
        if not isinstance(request, Message):
            return
        if logger.isEnabledFor(logging.DEBUG):
            text = text_format.MessageToString(redacted(request), as_one_line=True)
            logger.debug("request", extra={"type": request.DESCRIPTOR.full_name, "request": text[:2000]})
        problem = validation_error(request, self._validator)
        if problem is not None:
            raise ConnectError(Code.INVALID_ARGUMENT, problem)


class StrictCodec:
    """Wraps a connectrpc codec so that an undecodable body is ``INVALID_ARGUMENT``, not ``UNKNOWN``/500.

    connectrpc 0.10 decodes request bodies before any interceptor runs and reports a corrupt
    body as an internal error; a body the client got wrong is the client's error.
    """

    def __init__(self, codec: Any) -> None:
        self._codec = codec

    def name(self) -> str:
        return str(self._codec.name())

    def encode(self, message: Any) -> bytes:
        return bytes(self._codec.encode(message))

    def decode(self, data: bytes | bytearray, message: Any) -> Any:
        try:
            return self._codec.decode(data, message)
        # ValueError covers JSON that is not UTF-8 (UnicodeDecodeError); RecursionError a too deeply nested body.
        except (DecodeError, json_format.ParseError, ValueError, RecursionError) as e:
            name = message.DESCRIPTOR.name if isinstance(message, Message) else type(message).__name__
            detail = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConnectError(Code.INVALID_ARGUMENT, f"malformed {name}: {detail}") from e


def reject_malformed_bodies(app: Any) -> Any:
    """Make a connectrpc ASGI application answer undecodable bodies with ``INVALID_ARGUMENT``.

    Relies on the application's codec table (``_codecs``), which connectrpc 0.10 keeps per
    application; the version is pinned (<0.11), and an application without it is left as is.

    Example:
        >>> app = reject_malformed_bodies(SecretServiceASGIApplication(service))  # doctest: +SKIP
    """
    codecs = getattr(app, "_codecs", None)
    if isinstance(codecs, dict):
        app._codecs = {
            name: codec if isinstance(codec, StrictCodec) else StrictCodec(codec) for name, codec in codecs.items()
        }
    return app
