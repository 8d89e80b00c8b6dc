"""The guard in front of the Connect apps, in process: what the wrapped application receives, and refusals.

Fast companions of the subprocess tests in ``test_request_limits.py`` (which measure memory).
The wrapped application here records what reaches it, as connectrpc would read it.
"""

from __future__ import annotations

import gzip
import json
import struct
import time
import zlib
from typing import Any

import pytest

from flyte_server.limits import ServerLimits
from flyte_server.rpc_guard import RpcGuard, _Refusal, inflate_gzip

MiB = 1024 * 1024


class Recorder:
    """An ASGI app that takes the whole body and answers 200 with it."""

    path = "/test.Service"

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        self.headers.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})


async def call(
    guard: RpcGuard, body: bytes, headers: dict[str, str], *, chunk: int = 65536
) -> tuple[int, dict[bytes, bytes], bytes]:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    received: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        received.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/test.Service/Call",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
    }
    await guard(scope, receive, send)
    start = received[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in received[1:])


def test_inflate_gzip_stops_at_the_limit_and_refuses_bad_data() -> None:
    assert inflate_gzip(gzip.compress(b"a" * 1000) + gzip.compress(b"b"), 2000) == b"a" * 1000 + b"b"
    assert inflate_gzip(gzip.compress(b""), 10) == b""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(compressor.compress(bytes(MiB)) for _ in range(256)) + compressor.flush()
    started = time.monotonic()
    with pytest.raises(_Refusal) as refused:
        inflate_gzip(bomb, 4 * MiB)
    assert refused.value.code.value == "resource_exhausted"
    assert time.monotonic() - started < 5, "it inflated far past the limit"
    for bad in (b"plain text", gzip.compress(b"abc")[:-4], gzip.compress(b"abc") + b"trailing"):
        with pytest.raises(_Refusal) as malformed:
            inflate_gzip(bad, 100)
        assert malformed.value.code.value == "invalid_argument"


async def test_the_app_gets_the_inflated_body_without_the_encoding_header() -> None:
    app = Recorder()
    guard = RpcGuard(app, ServerLimits(max_request_bytes=MiB))
    status, _, _ = await call(
        guard, gzip.compress(b"x" * 5000), {"content-type": "application/proto", "content-encoding": "gzip"}
    )
    assert status == 200
    assert app.bodies == [b"x" * 5000]
    assert b"content-encoding" not in app.headers[0]


async def test_stream_envelopes_are_inflated_and_their_sizes_checked_first() -> None:
    app = Recorder()
    guard = RpcGuard(app, ServerLimits(max_request_bytes=MiB))
    payload = gzip.compress(b"m" * 3000)
    framed = struct.pack(">BI", 1, len(payload)) + payload
    headers = {"content-type": "application/connect+proto", "connect-content-encoding": "gzip"}
    status, _, _ = await call(guard, framed, headers)
    assert status == 200
    assert app.bodies == [struct.pack(">BI", 0, 3000) + b"m" * 3000]

    claimed = struct.pack(">BI", 0, 0xFFFFFFFF) + b"\x00" * 100
    status, _, body = await call(guard, claimed, {"content-type": "application/connect+proto"})
    assert status == 200  # a stream's error travels in its end message
    flags, length = struct.unpack(">BI", body[:5])
    assert flags & 0x02
    assert json.loads(body[5 : 5 + length])["error"]["code"] == "resource_exhausted"
    assert len(app.bodies) == 1, "the refused stream reached the application"

    for bad in (b"\x00\x00\x00", struct.pack(">BI", 4, 1) + b"x", struct.pack(">BI", 1, 1) + b"x"):
        status, _, body = await call(guard, bad, {"content-type": "application/connect+json"})
        assert b"invalid_argument" in body


async def test_declared_and_actual_oversized_bodies_are_refused_and_close_the_connection() -> None:
    app = Recorder()
    guard = RpcGuard(app, ServerLimits(max_request_bytes=1000))
    status, headers, body = await call(guard, b"", {"content-type": "application/proto", "content-length": "5000"})
    assert (status, headers.get(b"connection")) == (429, b"close")
    assert json.loads(body)["code"] == "resource_exhausted"
    status, headers, _ = await call(guard, b"y" * 5000, {"content-type": "application/proto"}, chunk=100)
    assert (status, headers.get(b"connection")) == (429, b"close")
    assert app.bodies == []
