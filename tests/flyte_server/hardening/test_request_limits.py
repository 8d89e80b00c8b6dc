"""Hostile request sizes and slow clients are refused with bounded memory, and the server keeps serving.

The server runs in a subprocess of its own so that its peak resident memory (``VmHWM``) can be
read; before these limits, a 1 MB gzip bomb took it to 2.2 GB and a 500 MB body to 1.1 GB.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ServerSubprocess

pytestmark = pytest.mark.heavy

MiB = 1024 * 1024
LIMIT = 64 * MiB  # the default ServerLimits.max_request_bytes
MEMORY_BOUND_MB = 200  # growth allowed over the idle server: the limit, plus a copy on the way, plus slack
LIST_PROJECTS = "/flyteidl2.project.ProjectService/ListProjects"
# The envelope checks run before any service code, so a stream-framed request to an admin RPC shows them
# without the engine (and its worker processes) running.
STREAM_FRAMED = LIST_PROJECTS


@pytest.fixture(scope="module")
def server() -> Iterator[ServerSubprocess]:
    """One server with default limits for the memory tests (peak RSS only grows)."""
    import tempfile
    from pathlib import Path

    from .conftest import start_server_subprocess

    with tempfile.TemporaryDirectory() as root:
        running = start_server_subprocess(Path(root) / "server")
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def idle_peak_mb(server: ServerSubprocess) -> float:
    # Warm the request path once, so that first-use allocations do not count against the bounds.
    ok = httpx.post(server.url + LIST_PROJECTS, json={}, timeout=30)
    assert ok.status_code == 200, ok.text
    return server.peak_rss_mb()


def gzip_bomb(inflated_mb: int) -> bytes:
    """``inflated_mb`` MiB of zeros, gzip-compressed (about 1 KiB per MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    return b"".join([compressor.compress(zeros) for _ in range(inflated_mb)] + [compressor.flush()])


def raw_request(port: int, head: str, body: bytes = b"", *, read_timeout: float = 30.0) -> bytes:
    """Send ``head`` (request line and headers) plus ``body`` on a fresh connection; return what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def test_a_gzip_bomb_is_refused_without_inflating_it(server: ServerSubprocess, idle_peak_mb: float) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB inflated, about 1 MB on the wire
    assert len(bomb) < 2 * MiB
    started = time.monotonic()
    response = httpx.post(
        server.url + LIST_PROJECTS,
        content=bomb,
        headers={"content-type": "application/proto", "content-encoding": "gzip"},
        timeout=60,
    )
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "resource_exhausted"
    assert "larger than the limit" in response.json()["message"]
    assert time.monotonic() - started < 30
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    assert server.peak_rss_mb() < idle_peak_mb + MEMORY_BOUND_MB


def test_a_bomb_inside_a_stream_envelope_is_refused(server: ServerSubprocess, idle_peak_mb: float) -> None:
    bomb = gzip_bomb(512)
    envelope = struct.pack(">BI", 1, len(bomb)) + bomb
    response = httpx.post(
        server.url + STREAM_FRAMED,
        content=envelope,
        headers={"content-type": "application/connect+proto", "connect-content-encoding": "gzip"},
        timeout=60,
    )
    end = _connect_end_message(response.content)
    assert end["error"]["code"] == "resource_exhausted"
    assert server.peak_rss_mb() < idle_peak_mb + MEMORY_BOUND_MB


def _connect_end_message(body: bytes) -> dict[str, dict[str, str]]:
    flags, length = struct.unpack(">BI", body[:5])
    assert flags & 0x02, f"not an end-of-stream message: {body[:80]!r}"
    decoded: dict[str, dict[str, str]] = json.loads(body[5 : 5 + length])
    return decoded


def test_a_huge_body_is_refused_while_it_is_being_read(server: ServerSubprocess, idle_peak_mb: float) -> None:
    sent = 0

    def five_hundred_megabytes() -> Iterator[bytes]:
        nonlocal sent
        block = b"\x0a" * MiB
        for _ in range(500):
            sent += len(block)
            yield block

    try:
        response = httpx.post(
            server.url + LIST_PROJECTS,
            content=five_hundred_megabytes(),
            headers={"content-type": "application/proto"},
            timeout=60,
        )
    except httpx.TransportError:
        pass  # the server may close the connection while the client is still writing: also a refusal
    else:
        assert response.status_code == 429
        assert response.json()["code"] == "resource_exhausted"
    assert sent < 500 * MiB, "the server read the whole body"
    assert server.peak_rss_mb() < idle_peak_mb + MEMORY_BOUND_MB
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_a_declared_oversized_body_is_refused_before_it_is_sent(server: ServerSubprocess) -> None:
    head = (
        f"POST {LIST_PROJECTS} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/proto\r\n"
        f"content-length: {500 * MiB}\r\n"
    )
    answer = raw_request(server.port, head)
    assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b"resource_exhausted" in answer


def test_an_envelope_claiming_4_gb_is_refused_at_its_header(server: ServerSubprocess, idle_peak_mb: float) -> None:
    # Several clients each claim a 4 GB message, send 20 MB of it and drop the connection.
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            head = (
                f"POST {STREAM_FRAMED} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/connect+proto\r\n"
                "transfer-encoding: chunked\r\n\r\n"
            )
            sock.sendall(head.encode())
            header = struct.pack(">BI", 0, 0xFFFFFFFF)
            sock.sendall(b"%x\r\n%s\r\n" % (len(header), header))
            answer = b""
            while not (b"\r\n\r\n" in answer and _complete(answer)):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            assert b"resource_exhausted" in answer
            block = b"\x00" * MiB
            try:
                for _ in range(20):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            except OSError:
                pass  # the server closed the connection: what it should do
    assert server.peak_rss_mb() < idle_peak_mb + MEMORY_BOUND_MB
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_bad_gzip_and_bad_utf8_are_invalid_argument(server: ServerSubprocess) -> None:
    not_gzip = httpx.post(
        server.url + LIST_PROJECTS,
        content=b'{"limit": 1}',
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert (not_gzip.status_code, not_gzip.json()["code"]) == (400, "invalid_argument")
    assert "not valid gzip" in not_gzip.json()["message"]
    truncated = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    cut = (truncated.compress(b'{"limit": 1}') + truncated.flush())[:-6]
    response = httpx.post(
        server.url + LIST_PROJECTS,
        content=cut,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_argument")
    bad_utf8 = httpx.post(
        server.url + LIST_PROJECTS,
        content=b'{"token": "\xff\xfe"}',
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert (bad_utf8.status_code, bad_utf8.json()["code"]) == (400, "invalid_argument")
    assert "utf-8" in bad_utf8.json()["message"]


def test_plain_grpc_is_refused_clearly(server: ServerSubprocess) -> None:
    response = httpx.post(
        server.url + LIST_PROJECTS, content=b"\x00\x00\x00\x00\x00", headers={"content-type": "application/grpc"}
    )
    assert response.json()["code"] == "unimplemented"
    assert "gRPC-Web" in response.json()["message"]


@pytest.fixture
def impatient_server(server_subprocess: Callable[..., ServerSubprocess]) -> ServerSubprocess:
    return server_subprocess("--header-timeout", "5", "--body-timeout", "5", "--max-connections", "100")


def _stalled_clients(port: int, count: int, *, with_body: bool) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if with_body:
            sock.sendall(
                f"POST {LIST_PROJECTS} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/proto\r\n"
                "content-length: 1000\r\n\r\n0123456789".encode()
            )
        else:
            sock.sendall(f"POST {LIST_PROJECTS} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode())
        opened.append(sock)
    return opened


def _wait_closed(server: ServerSubprocess, at_most: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = server.open_connections()
        if count <= at_most:
            return count
        time.sleep(0.5)
    return server.open_connections()


def test_slow_bodies_and_slow_headers_are_dropped(impatient_server: ServerSubprocess) -> None:
    baseline = impatient_server.open_connections()
    slow = _stalled_clients(impatient_server.port, 150, with_body=True)
    slow += _stalled_clients(impatient_server.port, 150, with_body=False)
    try:
        time.sleep(0.5)
        assert impatient_server.open_connections() >= baseline + 100  # they were accepted and held for now
        # Past the connection cap, new requests are answered 503 instead of queueing behind them.
        busy = httpx.post(impatient_server.url + LIST_PROJECTS, json={}, timeout=30)
        assert busy.status_code == 503
        remaining = _wait_closed(impatient_server, baseline + 5, timeout=60)
        assert remaining <= baseline + 5, f"{remaining} connections still open"
        for sock in slow[:5] + slow[-5:]:
            sock.settimeout(5)
            answer = b""
            try:
                answer = sock.recv(4096)
            except OSError:
                pass
            assert answer in (b"",) or answer.startswith(b"HTTP/1.1 408"), answer[:100]
        ok = httpx.post(impatient_server.url + LIST_PROJECTS, json={}, timeout=30)
        assert ok.status_code == 200, ok.text
    finally:
        for sock in slow:
            sock.close()


def test_oversized_headers_are_refused(impatient_server: ServerSubprocess) -> None:
    head = f"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-filler: {'a' * 200_000}\r\n"
    answer = raw_request(impatient_server.port, head)
    assert answer.startswith(b"HTTP/1.1 431") or answer == b"", answer[:100]
    assert httpx.get(impatient_server.url + "/healthz", timeout=10).status_code == 200


def test_a_large_signed_upload_streams_to_disk(server_subprocess: Callable[..., ServerSubprocess]) -> None:
    uploader = server_subprocess("--engine", name="uploads")
    block = bytes(range(256)) * 4096  # 1 MiB
    count = 300
    digest = hashlib.md5()
    for _ in range(count):
        digest.update(block)
    httpx.post(uploader.url + LIST_PROJECTS, json={}, timeout=30).raise_for_status()
    idle = uploader.peak_rss_mb()
    location = httpx.post(
        uploader.url + "/flyteidl2.dataproxy.DataProxyService/CreateUploadLocation",
        json={
            "project": "flytesnacks",
            "domain": "development",
            "filename": "big.bin",
            "contentMd5": base64.b64encode(digest.digest()).decode(),
        },
        timeout=30,
    )
    assert location.status_code == 200, location.text
    signed = location.json()

    def body() -> Iterator[bytes]:
        for _ in range(count):
            yield block

    headers = {**signed.get("headers", {}), "content-length": str(count * len(block))}
    put = httpx.put(signed["signedUrl"], content=body(), headers=headers, timeout=120)
    assert put.status_code == 200, put.text
    assert uploader.peak_rss_mb() < idle + 100, "the upload was held in memory"
    stored = Path(signed["nativeUrl"].removeprefix("file://"))
    assert stored.stat().st_size == count * len(block)
    assert not list(stored.parent.glob(".*.tmp")), "the temporary file was left behind"

    # Another body under the same URL is refused (its MD5 does not match) and changes nothing.
    other = httpx.put(signed["signedUrl"], content=b"x" * 1000, headers=signed.get("headers", {}), timeout=30)
    assert other.status_code == 400
    assert stored.stat().st_size == count * len(block)


WATCH_RUNS = "/flyteidl2.workflow.RunService/WatchRuns"


def _abandoned_watch(url: str) -> None:
    """Open a WatchRuns stream, read its first message, and leave without a word (the stream stays idle)."""
    request = json.dumps({"projectId": {"name": "flytesnacks", "domain": "development"}}).encode()
    envelope = struct.pack(">BI", 0, len(request)) + request
    with httpx.Client(timeout=30) as client:
        with client.stream(
            "POST", url + WATCH_RUNS, content=envelope, headers={"content-type": "application/connect+json"}
        ) as response:
            assert response.status_code == 200
            next(response.iter_raw())


def test_watch_streams_a_client_abandons_give_their_slot_back(
    server_subprocess: Callable[..., ServerSubprocess],
) -> None:
    """A stream with nothing new to send is stopped when its client leaves, not when it next has news.

    Before, each abandoned idle watch held its request task (a slot of ``--max-connections``) until
    the next change: parked tasks' watches filled the server's slots and it answered 503 to everyone.
    """
    server = server_subprocess("--engine", "--max-connections", "10")
    for _ in range(15):
        _abandoned_watch(server.url)
    answered = httpx.post(server.url + LIST_PROJECTS, content=b"", headers={"content-type": "application/proto"})
    assert answered.status_code == 200, (answered.status_code, answered.text[:200])
