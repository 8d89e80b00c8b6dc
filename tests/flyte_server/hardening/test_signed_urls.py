"""Signed-URL downloads and uploads of the local store go through in pieces (the router, in process)."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from pathlib import Path
from typing import Any

from flyte_server.app import Router
from flyte_server.blobs.local import LocalBlobStore

MiB = 1024 * 1024


async def request(
    router: Router, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    parsed = urllib.parse.urlsplit(url)
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": urllib.parse.unquote(parsed.path),
        "query_string": parsed.query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    await router(scope, receive, send)
    return sent[0]["status"], sent[1:]


async def test_downloads_are_sent_in_pieces_and_uploads_land_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    router = Router(connect_apps=[], blobs=store)
    content = bytes(range(256)) * (3 * MiB // 256 + 7)
    md5 = hashlib.md5(content).digest()
    url, headers = store.sign_upload("uploads/p/d/x/big.bin", expires_in=60, content_md5=md5, base_url="http://h")
    status, _ = await request(router, "PUT", url, content, headers)
    assert status == 200

    status, parts = await request(
        router, "GET", store.sign_download("uploads/p/d/x/big.bin", expires_in=60, base_url="http://h")
    )
    assert status == 200
    assert len(parts) >= 3, "the download was sent as one piece"
    assert b"".join(part["body"] for part in parts) == content
    assert parts[-1]["more_body"] is False

    empty_md5 = hashlib.md5(b"").digest()
    url, headers = store.sign_upload("uploads/p/d/y/empty", expires_in=60, content_md5=empty_md5, base_url="http://h")
    assert (await request(router, "PUT", url, b"", headers))[0] == 200
    status, parts = await request(
        router, "GET", store.sign_download("uploads/p/d/y/empty", expires_in=60, base_url="http://h")
    )
    assert (status, b"".join(part["body"] for part in parts)) == (200, b"")

    missing = store.sign_download("uploads/p/d/z/none", expires_in=60, base_url="http://h")
    assert (await request(router, "GET", missing))[0] == 404

    bad = {"Content-MD5": base64.b64encode(md5).decode()}
    url, _ = store.sign_upload("uploads/p/d/w/bad", expires_in=60, content_md5=md5, base_url="http://h")
    assert (await request(router, "PUT", url, b"not the content", bad))[0] == 400
    assert not (tmp_path / "blobs" / "uploads" / "p" / "d" / "w" / "bad").exists()
    assert not list((tmp_path / "blobs").rglob(".*.tmp")), "a temporary file was left behind"
