"""Fuzz every RPC of every mounted service: no answer is a 500 (INTERNAL/UNKNOWN) and none hangs.

Requests are random messages of each RPC's input type (with values that tend to break servers:
NUL bytes, 64-bit extremes, path traversal, URLs, long text), sent as binary protobuf or JSON,
plain or gzip-compressed, and sometimes mutated after encoding (truncated, bytes flipped or
inserted). Unary RPCs use Connect's unary protocol, streaming ones its envelope framing. The
example count is modest and derandomized, so the whole fuzz stays well under two minutes.
``FLYTE_FUZZ_DB=postgresql://...`` runs the same fuzz against a PostgreSQL database.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flyte_server.config import ServerConfig
from flyte_server.server import build_app

from .conftest import ServerSubprocess, start_server_subprocess

pytestmark = pytest.mark.heavy

EXAMPLES_PER_RPC = 10
BAD_CODES = {"internal", "unknown", "data_loss"}
INTERESTING_TEXT = [
    "flytesnacks",
    "development",
    "",
    "a" * 2000,
    "x\x00y",
    "9" * 30,
    "-1",
    "../../../etc/passwd",
    "/etc/passwd",
    "file:///etc/passwd",
    "data:;base64,AAAA",
    "data:text/plain,hello",
    "s3://bucket/key",
    "http://127.0.0.1:1/x",
    "é中文🙂",
    "%00%2e%2e",
    "run-1",
    "a0",
]


@dataclass(frozen=True)
class Rpc:
    path: str
    input_type: Descriptor
    streaming: bool


def mounted_rpcs() -> list[Rpc]:
    """Every method of every Connect service the server mounts (taken from the composed app)."""
    from connectrpc._server_shared import EndpointUnary

    with tempfile.TemporaryDirectory() as root:
        router, _ = build_app(ServerConfig(port=1, data_dir=Path(root)))
        # build_app leaves the engine out when it cannot be built here; the engine's apps come from it.
    rpcs: list[Rpc] = []
    for guard in router.connect_apps:
        app = guard.app
        for path, endpoint in app._endpoints(app._service).items():
            rpcs.append(Rpc(path, endpoint.method.input.DESCRIPTOR, not isinstance(endpoint, EndpointUnary)))
    return rpcs


RPCS = mounted_rpcs()


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)
    return bool(repeated) if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

texts = st.one_of(st.sampled_from(INTERESTING_TEXT), st.text(st.characters(exclude_categories=("Cs",)), max_size=30))


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return st.one_of(st.sampled_from([0, 1, low, high, max(low, -1)]), st.integers(low, high))
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind == FieldDescriptor.TYPE_STRING:
        return texts
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=40)
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-3, 1000))
    raise AssertionError(f"unhandled field type {kind}")


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    fields = list(descriptor.fields)
    if not fields or depth > 5:
        return message
    chosen = draw(st.lists(st.sampled_from(fields), max_size=min(len(fields), 5), unique_by=lambda f: f.number))
    for field in chosen:
        _fill(draw, message, field, depth)
    return message


def _fill(draw: st.DrawFn, message: Message, field: FieldDescriptor, depth: int) -> None:
    target = getattr(message, field.name) if _is_repeated(field) or field.message_type else None
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        for key in draw(st.lists(scalar(key_field), max_size=3)):
            if value_field.message_type is not None:
                target[key].CopyFrom(draw(messages(value_field.message_type, depth + 1)))
            else:
                target[key] = draw(scalar(value_field))
        return
    if field.message_type is not None:
        if _is_repeated(field):
            for item in draw(st.lists(messages(field.message_type, depth + 1), max_size=3)):
                target.add().CopyFrom(item)
        else:
            target.CopyFrom(draw(messages(field.message_type, depth + 1)))
        return
    if _is_repeated(field):
        target.extend(draw(st.lists(scalar(field), max_size=4)))
    else:
        setattr(message, field.name, draw(scalar(field)))


_PLAUSIBLE_TEXT = {
    "project": "flytesnacks",
    "domain": "development",
    "org": "",
    "organization": "",
    "version": "v1",
    "name": "n1",
    "run": "r1",
    "action": "a0",
    "cluster": "local",
    "input_uri": "data:;base64,",
    "uri": "s3://bucket/key",
}


def _plausible_scalar(field: FieldDescriptor) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _PLAUSIBLE_TEXT.get(field.name, "abc")
    if kind == FieldDescriptor.TYPE_BYTES:
        return b"abc"
    if kind == FieldDescriptor.TYPE_BOOL:
        return True
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [value.number for value in field.enum_type.values]
        return next((number for number in numbers if number != 0), numbers[0])
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return 1.0
    return 1


@st.composite
def plausible(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Message:
    """A message with (almost) every field set to an ordinary value, one member per oneof: often valid.

    Then, with ``mutate_leaves``, some of its values are replaced by hostile ones.
    """
    message = message_factory.GetMessageClass(descriptor)()
    if depth > 4:
        return message
    chosen_oneof = {
        oneof.name: draw(st.sampled_from(list(oneof.fields))) for oneof in descriptor.oneofs if oneof.fields
    }
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen_oneof.get(oneof.name) is not field and not _synthetic(oneof):
            continue
        if draw(st.integers(0, 19)) == 0:
            continue  # leave one field in twenty out
        hostile = draw(st.integers(0, 29)) == 0
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            key = (
                draw(scalar(field.message_type.fields_by_name["key"]))
                if hostile
                else _plausible_scalar(field.message_type.fields_by_name["key"])
            )
            if value_field.message_type is not None:
                getattr(message, field.name)[key].CopyFrom(draw(plausible(value_field.message_type, depth + 1)))
            else:
                getattr(message, field.name)[key] = _plausible_scalar(value_field)
        elif field.message_type is not None:
            item = draw(plausible(field.message_type, depth + 1))
            if _is_repeated(field):
                getattr(message, field.name).add().CopyFrom(item)
            else:
                getattr(message, field.name).SetInParent()  # set even when empty: a chosen oneof member
                getattr(message, field.name).MergeFrom(item)
        else:
            value = draw(scalar(field)) if hostile else _plausible_scalar(field)
            if _is_repeated(field):
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)
    return message


def _synthetic(oneof: Any) -> bool:
    """A proto3 ``optional`` field's one-member oneof, which is not a real choice."""
    return len(oneof.fields) == 1 and oneof.name.startswith("_")


def encode(message: Message, codec: str) -> bytes:
    if codec == "json":
        try:
            return json_format.MessageToJson(message, indent=None).encode()
        except (json_format.SerializeToJsonError, TypeError, ValueError):
            return b'{"not": "serializable"}'
    return message.SerializeToString()


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip", "insert", "random"]))
    if how == "none" or (not data and how != "insert"):
        return data
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if how == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return draw(st.binary(max_size=200))


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerSubprocess]:
    with tempfile.TemporaryDirectory() as root:
        extra = ("--db", os.environ["FLYTE_FUZZ_DB"]) if os.environ.get("FLYTE_FUZZ_DB") else ()
        server = start_server_subprocess(Path(root) / "server", "--engine", *extra)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def http(fuzz_server: ServerSubprocess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server.url, timeout=httpx.Timeout(30.0, read=30.0)) as client:
        yield client


def _unary(http: httpx.Client, path: str, body: bytes, codec: str, compressed: bool) -> None:
    headers = {"content-type": f"application/{codec}"}
    if compressed:
        headers["content-encoding"] = "gzip"
        body = gzip.compress(body)
    response = http.post(path, content=body, headers=headers)
    assert response.status_code != 500, f"{path}: {response.status_code} {response.text[:300]}"
    if response.status_code != 200 and response.headers.get("content-type", "").startswith("application/json"):
        code = response.json().get("code")
        assert code not in BAD_CODES, f"{path}: {code}: {response.text[:300]}"


def _stream(http: httpx.Client, path: str, body: bytes, codec: str, compressed: bool) -> None:
    headers = {"content-type": f"application/connect+{codec}"}
    flags = 0
    if compressed:
        headers["connect-content-encoding"] = "gzip"
        body, flags = gzip.compress(body), 1
    framed = struct.pack(">BI", flags, len(body)) + body
    try:
        with http.stream(
            "POST", path, content=framed, headers=headers, timeout=httpx.Timeout(30.0, read=3.0)
        ) as response:
            assert response.status_code != 500, f"{path}: {response.status_code}"
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if _end_message(received) is not None or len(received) > 65536:
                    break
    except httpx.ReadTimeout:
        return  # an open watch with nothing to say yet: the request was accepted
    end = _end_message(received)
    if end is not None and "error" in end:
        code = end["error"].get("code")
        assert code not in BAD_CODES, f"{path}: {code}: {end['error'].get('message', '')[:300]}"


def _end_message(data: bytes) -> dict[str, Any] | None:
    position = 0
    while len(data) - position >= 5:
        flags, length = struct.unpack_from(">BI", data, position)
        if len(data) - position - 5 < length:
            return None
        if flags & 0x02:
            decoded: dict[str, Any] = json.loads(data[position + 5 : position + 5 + length])
            return decoded
        position += 5 + length
    return None


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc.path.rsplit(".", 1)[-1] for rpc in RPCS])
def test_no_rpc_answers_500_or_hangs(rpc: Rpc, http: httpx.Client, fuzz_server: ServerSubprocess) -> None:
    @settings(
        max_examples=EXAMPLES_PER_RPC,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        shape = plausible(rpc.input_type) if data.draw(st.integers(0, 3), label="kind") else messages(rpc.input_type)
        message = data.draw(shape, label="message")
        codec = data.draw(st.sampled_from(["proto", "json"]), label="codec")
        body = data.draw(mutated(encode(message, codec)), label="body")
        compressed = data.draw(st.booleans(), label="gzip")
        if rpc.streaming:
            _stream(http, rpc.path, body, codec, compressed)
        else:
            _unary(http, rpc.path, body, codec, compressed)

    fuzz()
    assert fuzz_server.process.poll() is None, "the server died"


def test_the_server_is_healthy_after_the_fuzz(http: httpx.Client, fuzz_server: ServerSubprocess) -> None:
    assert http.get("/healthz").status_code == 200
    answer = http.post("/flyteidl2.project.ProjectService/ListProjects", json={})
    assert answer.status_code == 200
    assert "request failed" not in fuzz_server.log() or "code=internal" not in fuzz_server.log()
