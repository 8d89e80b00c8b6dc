"""Condition actions: a run pauses until a person or a webhook sends a value (human in the loop).

A task registers a condition (``flyte.new_condition``) by enqueueing a child action with a
``ConditionAction`` spec. The engine stores it like any action (type CONDITION, phase PAUSED, the
spec in the row's spec bytes), so a restart of the server loses nothing, and starts no process for
it. The waiting parent holds no worker slot while it has a non-terminal child (see
:mod:`.machine`). The condition ends:

* SUCCEEDED when it is signalled (``RunService.SignalEvent``, the CLI's ``flyte signal condition``,
  or a webhook receiver posting to its callback URI) with a value of its type; the value is kept
  in the row as an inline ``data:`` URI of a ``core.Literal`` and travels inline in the parent's
  ``ActionUpdate.value``, as flyteidl2 defines;
* TIMED_OUT when its timeout passes first (the timer is re-armed from the stored creation time
  after a restart);
* FAILED (``ConditionRejected``) when it is rejected: ``AbortAction`` on the condition, or a
  callback with ``{"reject": reason}``; the SDKs raise ``ConditionFailedError``;
* ABORTED with its parent.

When the spec names a webhook, the engine POSTs the payload (``{callback_uri}`` replaced in every
string) with an HMAC-SHA256 signature of ``"<timestamp>.<body>"`` in ``X-Flyte-Signature``
(``sha256=<hex>``), retrying transport errors, 429 and 5xx with exponential backoff (tenacity).
The callback URI carries a signed token naming the condition: whoever holds it may resolve it.
Delivery is at least once: after a restart, every waiting condition's webhook is sent again, with
the same ``X-Flyte-Delivery`` id (derived from the condition), so a receiver can tell a resend.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import phase_pb2
from flyteidl2.core import literals_pb2, types_pb2
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from flyte_server.engine.model import (
    TIMED_OUT,
    ActionKey,
    ActionState,
    RunState,
    error_info,
    is_terminal,
    now_us,
    phase_name,
)
from flyte_server.store import runs as store

if TYPE_CHECKING:
    from flyte_server.engine import Engine
    from flyte_server.store.models.runs import ActionRow

__all__ = ["CALLBACK_PREFIX", "CONDITION", "PAUSED", "Conditions", "literal_of_uri"]

logger = logging.getLogger(__name__)

CONDITION = run_definition_pb2.ACTION_TYPE_CONDITION
PAUSED = phase_pb2.ACTION_PHASE_PAUSED
FAILED = phase_pb2.ACTION_PHASE_FAILED

CALLBACK_PREFIX = "/api/v1/conditions/"
"""Where webhook receivers resolve a condition: ``POST <prefix><token>`` with ``{"value": ...}``."""

_SIMPLE = {
    types_pb2.BOOLEAN: "bool",
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
}
_MAX_PROMPT = 64 * 1024
_MAX_TIMEOUT_S = 366 * 24 * 3600
_MAX_URL = 2048
_MAX_STRING_VALUE = 3072
_MAX_CALLBACK_BODY = 16 * 1024
_WEBHOOK_ATTEMPTS = int(os.environ.get("FLYTE_SERVER_WEBHOOK_ATTEMPTS", "6"))
_WEBHOOK_TIMEOUT_S = 10.0


def literal_of_uri(uri: str) -> literals_pb2.Literal | None:
    """The ``Literal`` a condition row keeps as a ``data:`` URI (``None`` when it holds none)."""
    header, _, payload = uri.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        return None
    try:
        return literals_pb2.Literal.FromString(base64.b64decode(payload, validate=True))
    except (ValueError, DecodeError):
        return None


def _uri_of_literal(literal: literals_pb2.Literal) -> str:
    data = base64.b64encode(literal.SerializeToString(deterministic=True)).decode()
    return f"data:application/x-flyte-literal;base64,{data}"


def value_of_literal(literal: literals_pb2.Literal) -> bool | int | float | str | None:
    """The Python value of a condition's result literal."""
    primitive = literal.scalar.primitive
    kind = primitive.WhichOneof("value")
    if kind is None:
        return None
    return getattr(primitive, kind)  # type: ignore[no-any-return]


def _literal(kind: str, payload: run_service_pb2.EventPayload) -> literals_pb2.Literal:
    """The literal for a signal's payload, checked against the condition's type."""
    sent = payload.WhichOneof("value")
    if sent is None:
        raise ConnectError(Code.INVALID_ARGUMENT, "payload: give a bool, int, float or string value")
    primitive = literals_pb2.Primitive()
    if kind == "bool" and sent == "bool_value":
        primitive.boolean = payload.bool_value
    elif kind == "int" and sent == "int_value":
        primitive.integer = payload.int_value
    elif kind == "float" and sent in ("float_value", "int_value"):
        value = float(getattr(payload, sent))
        if not math.isfinite(value):
            raise ConnectError(Code.INVALID_ARGUMENT, "payload: the float value must be finite")
        primitive.float_value = value
    elif kind == "str" and sent == "string_value":
        if len(payload.string_value) > _MAX_STRING_VALUE:
            raise ConnectError(Code.INVALID_ARGUMENT, f"payload: text longer than {_MAX_STRING_VALUE} characters")
        primitive.string_value = payload.string_value
    else:
        raise ConnectError(
            Code.INVALID_ARGUMENT,
            f"payload: the condition expects a {kind}, got {sent.removesuffix('_value').replace('string', 'str')}",
        )
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def _payload_of_json(kind: str, value: Any) -> run_service_pb2.EventPayload:
    """An ``EventPayload`` from a JSON value posted to a callback URI."""
    if isinstance(value, bool):
        return run_service_pb2.EventPayload(bool_value=value)
    if isinstance(value, int):
        if kind == "float":
            return run_service_pb2.EventPayload(float_value=float(value))
        return run_service_pb2.EventPayload(int_value=value)
    if isinstance(value, float):
        return run_service_pb2.EventPayload(float_value=value)
    if isinstance(value, str):
        return run_service_pb2.EventPayload(string_value=value)
    raise ConnectError(Code.INVALID_ARGUMENT, "value: give a bool, number or string")


def kind_of(condition: run_definition_pb2.ConditionAction) -> str:
    """``bool``, ``int``, ``float`` or ``str``: what the condition expects."""
    if not condition.HasField("type"):
        return "bool"
    return _SIMPLE.get(condition.type.simple, "str")


def check_condition(condition: run_definition_pb2.ConditionAction) -> None:
    """Refuse a condition spec this server cannot honour (INVALID_ARGUMENT, one line)."""
    if not condition.name or len(condition.name) > 255:
        raise ConnectError(Code.INVALID_ARGUMENT, "condition.name: 1 to 255 characters")
    if condition.HasField("type") and condition.type.simple not in _SIMPLE:
        raise ConnectError(Code.INVALID_ARGUMENT, "condition.type: a condition carries a bool, int, float or string")
    if len(condition.prompt) > _MAX_PROMPT or len(condition.description) > _MAX_PROMPT:
        raise ConnectError(Code.INVALID_ARGUMENT, "condition.prompt/description: at most 64 KiB")
    if condition.HasField("timeout"):
        seconds = condition.timeout.seconds + condition.timeout.nanos / 1e9
        if seconds < 0 or seconds > _MAX_TIMEOUT_S:
            raise ConnectError(Code.INVALID_ARGUMENT, "condition.timeout: between 0 and 366 days")
    if condition.HasField("webhook"):
        url = condition.webhook.url
        if len(url) > _MAX_URL or not (url.startswith("http://") or url.startswith("https://")):
            raise ConnectError(Code.INVALID_ARGUMENT, "condition.webhook.url: an http:// or https:// URL")


def _substitute(value: Any, callback_uri: str) -> Any:
    if isinstance(value, str):
        return value.replace("{callback_uri}", callback_uri)
    if isinstance(value, dict):
        return {key: _substitute(item, callback_uri) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, callback_uri) for item in value]
    return value


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``"<timestamp>.<body>"`` (``X-Flyte-Signature``)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _RetryableDelivery(Exception):
    """A delivery answered with 429 or 5xx: try again later."""


class Conditions:
    """The engine's condition actions: create, restore, time out, signal, reject, webhooks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._secret: bytes | None = None

    # ------------------------------------------------------------------ secret and tokens

    @property
    def secret(self) -> bytes:
        """The key that signs webhook bodies and callback tokens.

        ``FLYTE_SERVER_WEBHOOK_SECRET`` when set (receivers verify signatures with it), otherwise
        a random key kept in ``<data dir>/webhook.key`` (mode 0600).
        """
        if self._secret is None:
            configured = os.environ.get("FLYTE_SERVER_WEBHOOK_SECRET")
            if configured:
                self._secret = configured.encode()
            else:
                path = Path(self.engine.config.data_dir) / "webhook.key"
                try:
                    self._secret = path.read_bytes()
                except FileNotFoundError:
                    key = secrets.token_bytes(32)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(key)
                    self._secret = key
        return self._secret

    def token(self, key: ActionKey) -> str:
        """A callback token that names ``key`` and cannot be forged without the secret."""
        body = base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{body}.{mac}"

    def key_of_token(self, token: str) -> ActionKey | None:
        body, _, mac = token.partition(".")
        expected = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not mac or not hmac.compare_digest(mac, expected):
            return None
        try:
            parts = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(parts, list) or len(parts) != 4 or not all(isinstance(p, str) for p in parts):
            return None
        return ActionKey(*parts)

    def callback_uri(self, key: ActionKey) -> str:
        return f"{self.engine.base_url}{CALLBACK_PREFIX}{self.token(key)}"

    # ------------------------------------------------------------------ creation and restore

    async def enqueue(
        self,
        key: ActionKey,
        run: RunState,
        parent: ActionState,
        condition: run_definition_pb2.ConditionAction,
        *,
        group: str,
        input_uri: str,
    ) -> None:
        """Record a new condition action (PAUSED), arm its timeout, fire its webhook."""
        from flyte_server.engine.submit import _event
        from flyte_server.engine.writer import Statements

        check_condition(condition)
        engine = self.engine
        machine = engine.machine
        stamp = now_us()
        a = ActionState(
            key=key,
            run=run,
            parent=parent.key.name,
            group=group,
            kind=CONDITION,
            phase=PAUSED,
            attempt=1,
            spec=None,
            spec_digest="",
            input_uri=input_uri,
            run_output_base=parent.run_output_base,
            env={},
            created_us=stamp,
            queued_us=stamp,
        )
        values: dict[str, Any] = {
            "project": key.project,
            "domain": key.domain,
            "run_name": key.run,
            "name": key.name,
            "parent_name": parent.key.name,
            "group_name": group,
            "action_type": CONDITION,
            "phase": PAUSED,
            "attempts": 1,
            "function_name": condition.name,
            "short_name": condition.name,
            "trace_spec": condition.SerializeToString(deterministic=True),
            "input_uri": input_uri[:4096],
            "run_output_base": parent.run_output_base,
            "env": "{}",
            "run_start_us": run.start_us,
            "created_us": stamp,
            "updated_us": stamp,
            "queued_us": stamp,
        }
        from sqlalchemy.exc import IntegrityError

        machine.creating.add(key)
        try:
            machine.register(a)
            try:
                await engine.writer.write(Statements([store.action_insert(values)]), [_event(a)])
            except IntegrityError:
                machine.finish_registration_failed(a)
                await engine.submit._republish(key)
                return
        finally:
            machine.creating.discard(key)
        self._arm_timeout(a, condition)
        if condition.HasField("webhook") and condition.webhook.url:
            machine.spawn(self._deliver_webhook(key, condition), name=f"condition-webhook-{key}")

    def restore(self, row: ActionRow, run: RunState) -> None:
        """Take a stored, non-terminal condition back after a restart (timer re-armed)."""
        machine = self.engine.machine
        key = ActionKey(row.project, row.domain, row.run_name, row.name)
        a = ActionState(
            key=key,
            run=run,
            parent=row.parent_name,
            group=row.group_name,
            kind=CONDITION,
            phase=PAUSED,
            attempt=1,
            spec=None,
            spec_digest="",
            input_uri=row.input_uri,
            run_output_base=row.run_output_base,
            env={},
            created_us=row.created_us,
            queued_us=row.queued_us or row.created_us,
        )
        machine.register(a)
        parent_gone = ActionKey(*run.key, row.parent_name) not in machine.actions
        if row.abort_requested or parent_gone:
            machine.spawn(machine.abort(a, row.abort_reason or f"parent action {row.parent_name} ended"), name="abort")
            return
        try:
            condition = run_definition_pb2.ConditionAction.FromString(row.trace_spec)
        except DecodeError:
            condition = run_definition_pb2.ConditionAction()
        self._arm_timeout(a, condition)
        if condition.HasField("webhook") and condition.webhook.url:
            # At least once: the delivery may have been cut off by the restart (same X-Flyte-Delivery).
            machine.spawn(self._deliver_webhook(key, condition), name=f"condition-webhook-{key}")

    def _arm_timeout(self, a: ActionState, condition: run_definition_pb2.ConditionAction) -> None:
        if not condition.HasField("timeout"):
            return
        limit = condition.timeout.seconds + condition.timeout.nanos / 1e9
        if limit <= 0:
            return
        machine = self.engine.machine
        remaining = limit - (now_us() - a.created_us) / 1e6

        def fire() -> None:
            if not machine.is_current(a):
                return
            error = error_info(
                "ConditionTimedOut",
                f"condition {condition.name or a.key.name} was not signalled within {limit:g}s",
                system=False,
            )
            machine.spawn(machine.finish(a, TIMED_OUT, error=error), name=f"condition-timeout-{a.key}")

        machine._later(a, "condition", remaining, fire)

    # ------------------------------------------------------------------ resolution

    async def _spec(self, key: ActionKey) -> tuple[ActionRow, run_definition_pb2.ConditionAction]:
        async with self.engine.database.session() as session:
            row = await store.get_action(session, key)
        if row is None:
            raise ConnectError(Code.NOT_FOUND, f"action {key.name!r} of run {key.run!r} does not exist")
        if row.action_type != CONDITION:
            raise ConnectError(Code.FAILED_PRECONDITION, f"action {key.name!r} is not a condition")
        try:
            return row, run_definition_pb2.ConditionAction.FromString(row.trace_spec)
        except DecodeError:
            return row, run_definition_pb2.ConditionAction()

    def _live(self, key: ActionKey, row: ActionRow) -> ActionState:
        a = self.engine.machine.actions.get(key)
        if a is None or a.kind != CONDITION or is_terminal(a.phase):
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"condition {row.function_name or key.name!r} is no longer waiting "
                f"(phase {phase_name(a.phase if a is not None else row.phase)})",
            )
        return a

    async def signal(self, key: ActionKey, payload: run_service_pb2.EventPayload, parent: str = "") -> Any:
        """Resolve a waiting condition with ``payload``; returns the stored value.

        Raises:
            ConnectError: NOT_FOUND, FAILED_PRECONDITION (not a condition, or not waiting any more),
                INVALID_ARGUMENT (a value of the wrong type, or a parent that is not the condition's).
        """
        row, condition = await self._spec(key)
        if parent and parent != row.parent_name:
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"parent_action_name: condition {key.name!r} belongs to {row.parent_name!r}"
            )
        literal = _literal(kind_of(condition), payload)
        a = self._live(key, row)
        await self.engine.machine.succeed(a, output_uri=_uri_of_literal(literal))
        return value_of_literal(literal)

    async def reject(self, key: ActionKey, reason: str) -> bool:
        """Fail a waiting condition (the SDKs raise ConditionFailedError); ``False`` if it is not one."""
        a = self.engine.machine.actions.get(key)
        if a is None or a.kind != CONDITION:
            return False
        message = f"condition {key.name} was rejected" + (f": {reason}" if reason else "")
        await self.engine.machine.finish(a, FAILED, error=error_info("ConditionRejected", message, system=False))
        return True

    # ------------------------------------------------------------------ webhooks

    async def _deliver_webhook(self, key: ActionKey, condition: run_definition_pb2.ConditionAction) -> None:
        import httpx
        import tenacity

        callback = self.callback_uri(key)
        if condition.webhook.HasField("payload"):
            payload = _substitute(json_format.MessageToDict(condition.webhook.payload), callback)
        else:
            payload = {
                "run": key.run,
                "action": key.name,
                "condition": condition.name,
                "prompt": condition.prompt,
                "type": kind_of(condition),
                "callback_uri": callback,
            }
        body = json.dumps(payload, sort_keys=True).encode()
        # The same id on every delivery of this condition (a resend after a restart too): receivers dedupe on it.
        delivery = hmac.new(self.secret, ("delivery\0" + "\0".join(key)).encode(), hashlib.sha256).hexdigest()[:16]

        async def post(client: httpx.AsyncClient) -> None:
            stamp = str(int(time.time()))
            response = await client.post(
                condition.webhook.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Flyte-Timestamp": stamp,
                    "X-Flyte-Signature": sign(self.secret, stamp, body),
                    "X-Flyte-Delivery": delivery,
                },
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise _RetryableDelivery(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                logger.warning("webhook of condition %s refused: HTTP %d", key, response.status_code)

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(_WEBHOOK_ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=0.5, max=30),
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _RetryableDelivery)),
            reraise=True,
        )
        try:
            async with httpx.AsyncClient(timeout=_WEBHOOK_TIMEOUT_S, follow_redirects=False) as client:
                async for attempt in retrying:
                    with attempt:
                        live = self.engine.machine.actions.get(key)
                        if live is None or is_terminal(live.phase):
                            return
                        await post(client)
        except Exception as error:  # logged: the condition still waits and can be signalled
            logger.warning("webhook of condition %s failed after retries: %s", key, error)

    async def http_callback(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI endpoint: ``POST <prefix><token>`` with ``{"value": v}`` or ``{"reject": "reason"}``."""
        if scope.get("method") != "POST":
            await _reply(send, 405, {"error": "use POST"})
            return
        token = scope["path"][len(CALLBACK_PREFIX) :]
        key = self.key_of_token(token)
        if key is None:
            await _reply(send, 404, {"error": "unknown condition"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > _MAX_CALLBACK_BODY:
                await _reply(send, 413, {"error": "body too large"})
                return
            if not message.get("more_body"):
                break
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            await _reply(send, 400, {"error": "the body is not JSON"})
            return
        if not isinstance(document, dict) or ("value" not in document and "reject" not in document):
            await _reply(send, 400, {"error": 'send {"value": ...} or {"reject": "reason"}'})
            return
        try:
            if "reject" in document:
                row, _ = await self._spec(key)
                self._live(key, row)
                await self.reject(key, str(document["reject"])[:1000])
                await _reply(send, 200, {"rejected": True})
                return
            row, condition = await self._spec(key)
            value = await self.signal(key, _payload_of_json(kind_of(condition), document["value"]))
        except ConnectError as error:
            status = {Code.NOT_FOUND: 404, Code.FAILED_PRECONDITION: 409, Code.INVALID_ARGUMENT: 400}.get(
                error.code, 500
            )
            await _reply(send, status, {"error": error.message})
            return
        await _reply(send, 200, {"value": value})


async def _reply(send: Any, status: int, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
