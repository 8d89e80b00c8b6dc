"""The one retry policy (tenacity) behind signed-URL uploads and storage transfers, against a real
HTTP server on loopback that throttles, fails, and finally accepts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flyte._internal.retrying import put_signed_url


class _Flaky(BaseHTTPRequestHandler):
    script: list[int] = []
    bodies: list[bytes] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        payload = b"" if status == 200 else b"denied: signature mismatch\nmore"
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Flaky.script = []
    _Flaky.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/blob?X-Signature=secret"
    server.shutdown()
    server.server_close()


class UploadFailed(Exception):
    pass


async def test_throttled_and_failing_tries_are_retried_until_the_upload_lands(flaky_server: str) -> None:
    _Flaky.script = [503, 429, 500]
    reads = []

    def body() -> bytes:
        reads.append(1)
        return b"payload"

    await put_signed_url(flaky_server, body, {}, what="the code bundle", error=UploadFailed)
    assert _Flaky.bodies == [b"payload"] and len(reads) == 4  # read again for every try


async def test_a_refused_upload_fails_at_once_with_one_line(flaky_server: str) -> None:
    _Flaky.script = [403]
    with pytest.raises(UploadFailed) as caught:
        await put_signed_url(flaky_server, b"x", {}, what="the code bundle", error=UploadFailed)
    assert str(caught.value) == "Uploading the code bundle failed with HTTP 403: denied: signature mismatch"
    assert _Flaky.script == [] and _Flaky.bodies == []


async def test_retries_are_bounded(flaky_server: str) -> None:
    _Flaky.script = [503] * 10
    with pytest.raises(UploadFailed) as caught:
        await put_signed_url(flaky_server, b"x", {}, what="/tmp/data.bin", error=UploadFailed)
    assert "HTTP 503" in str(caught.value) and "X-Signature" not in str(caught.value)
    assert len(_Flaky.script) == 6  # four tries


async def test_an_unreachable_url_names_it_without_its_signature() -> None:
    with pytest.raises(UploadFailed) as caught:
        await put_signed_url("http://127.0.0.1:9/blob?X-Signature=secret", b"x", {}, what="f", error=UploadFailed)
    assert str(caught.value).startswith("Cannot upload f to http://127.0.0.1:9/blob: ")


async def test_upload_progress_is_reported_up_to_the_total(flaky_server: str) -> None:
    from flyte._internal.retrying import UPLOAD_PROGRESS

    seen: list[tuple[str, int, int]] = []
    token = UPLOAD_PROGRESS.set(lambda what, done, total: seen.append((what, done, total)))
    try:
        payload = bytes(range(256)) * 4096  # 1 MiB
        await put_signed_url(
            flaky_server, payload, {"Content-Length": str(len(payload))}, what="the code bundle", error=UploadFailed
        )
    finally:
        UPLOAD_PROGRESS.reset(token)
    assert _Flaky.bodies == [payload]
    assert seen[-1] == ("the code bundle", len(payload), len(payload))
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen) and len(seen) == 4
