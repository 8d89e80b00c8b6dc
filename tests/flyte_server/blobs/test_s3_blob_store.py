"""The S3 blob store against a real S3-compatible HTTP server (moto) on a loopback port."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from flyte_server.blobs import BlobStore
from flyte_server.blobs.local import BlobPathError
from flyte_server.blobs.s3 import S3BlobStore, S3StoreError
from flyte_server.config import ServerConfig
from flyte_server.server import ServerStartError

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import RunningServer

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

BUCKET = "flyte-test"
KEYS = {"access_key_id": "testing-key", "secret_access_key": "testing-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, with one bucket."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
async def store(s3_endpoint: str) -> AsyncIterator[S3BlobStore]:
    opened = S3BlobStore(f"s3://{BUCKET}/flyte/data", endpoint_url=s3_endpoint, **KEYS)
    await opened.open()
    yield opened
    await opened.close()


async def test_objects_round_trip(store: S3BlobStore) -> None:
    assert isinstance(store, BlobStore)
    url = await store.put("runs/r1/a0/inputs.pb", b"inputs")
    assert url == f"s3://{BUCKET}/flyte/data/runs/r1/a0/inputs.pb"
    assert store.key_of(url) == "runs/r1/a0/inputs.pb"
    assert store.key_of("s3://other-bucket/flyte/data/x") is None
    assert await store.get("runs/r1/a0/inputs.pb") == b"inputs"
    assert await store.exists("runs/r1/a0/inputs.pb")
    await store.delete("runs/r1/a0/inputs.pb")
    assert await store.get("runs/r1/a0/inputs.pb") is None
    assert not await store.exists("runs/r1/a0/inputs.pb")


async def test_presigned_urls_upload_and_download(store: S3BlobStore) -> None:
    body = b"a code bundle"
    md5 = hashlib.md5(body).digest()
    url, headers = store.sign_upload("uploads/p/d/bundle.tgz", expires_in=60, content_md5=md5, base_url="unused")
    assert headers == {"Content-MD5": base64.b64encode(md5).decode()}
    assert "X-Amz-Signature=" in url and "content-md5" in url.lower()
    async with httpx.AsyncClient() as client:
        response = await client.put(url, content=body, headers=headers)
        assert response.status_code == 200
        assert await store.get("uploads/p/d/bundle.tgz") == body
        download = await client.get(store.sign_download("uploads/p/d/bundle.tgz", expires_in=60, base_url="unused"))
    assert download.status_code == 200 and download.content == body


async def test_workers_get_the_endpoint_and_credentials(store: S3BlobStore, s3_endpoint: str) -> None:
    assert store.worker_env() == {
        "FLYTE_AWS_ENDPOINT": s3_endpoint,
        "FLYTE_AWS_ACCESS_KEY_ID": KEYS["access_key_id"],
        "FLYTE_AWS_SECRET_ACCESS_KEY": KEYS["secret_access_key"],
    }


async def test_keys_cannot_escape_the_prefix(store: S3BlobStore) -> None:
    with pytest.raises(BlobPathError):
        await store.put("../outside", b"x")


async def test_a_missing_bucket_or_endpoint_is_a_clear_error(s3_endpoint: str) -> None:
    with pytest.raises(S3StoreError, match="no-such-bucket"):
        await S3BlobStore("s3://no-such-bucket", endpoint_url=s3_endpoint, **KEYS).open()
    with pytest.raises(S3StoreError, match="not an S3 URL"):
        S3BlobStore("s3:///no-bucket")


def test_the_server_runs_on_s3_storage(
    s3_endpoint: str, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    config = ServerConfig(
        port=0,
        data_dir=tmp_path,
        storage=f"s3://{BUCKET}/server",
        s3_endpoint=s3_endpoint,
        s3_access_key_id=KEYS["access_key_id"],
        s3_secret_access_key=KEYS["secret_access_key"],
    )
    server = launch_server(config)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    server.stop()
    with pytest.raises(ServerStartError, match="cannot use bucket 'missing-bucket'"):
        launch_server(ServerConfig(port=0, data_dir=tmp_path, storage="s3://missing-bucket", s3_endpoint=s3_endpoint))


async def test_an_upload_url_binds_the_content_and_never_replaces_other_content(store: S3BlobStore) -> None:
    original, poison = b"the real bundle", b"poisoned bundle"
    with pytest.raises(ValueError, match="MD5"):
        store.sign_upload("uploads/p/d/b/x.tgz", expires_in=60, content_md5=None, base_url="unused")
    md5, poison_md5 = hashlib.md5(original).digest(), hashlib.md5(poison).digest()
    # Both URLs are handed out while the object does not exist yet.
    real, real_headers = store.sign_upload(
        "uploads/p/d/b/x.tgz", expires_in=60, content_md5=md5, base_url="unused", if_absent=True
    )
    attack, attack_headers = store.sign_upload(
        "uploads/p/d/b/x.tgz", expires_in=60, content_md5=poison_md5, base_url="unused", if_absent=True
    )
    # S3 refuses a request without a header the URL signed (moto does not check; real S3 does).
    assert "X-Amz-SignedHeaders=content-md5%3Bhost%3Bif-none-match" in real
    assert attack_headers == {"Content-MD5": base64.b64encode(poison_md5).decode(), "If-None-Match": "*"}
    async with httpx.AsyncClient() as client:
        assert (await client.put(real, content=original, headers=real_headers)).status_code == 200
        assert (await client.put(attack, content=poison, headers=attack_headers)).status_code == 412
    assert await store.get("uploads/p/d/b/x.tgz") == original
    assert await store.content_md5("uploads/p/d/b/x.tgz") == md5
    assert await store.content_md5("uploads/p/d/b/missing.tgz") is None

    # The server's own first-writer-wins upload: the same content is fine, other content is refused.
    assert await store.put_upload("uploads/p/d/b/x.tgz", original)
    assert not await store.put_upload("uploads/p/d/b/x.tgz", poison)
    assert await store.get("uploads/p/d/b/x.tgz") == original


async def test_workers_get_their_own_credentials_when_given(s3_endpoint: str) -> None:
    own = S3BlobStore(
        f"s3://{BUCKET}/flyte",
        endpoint_url=s3_endpoint,
        **KEYS,
        worker_access_key_id="worker-key",
        worker_secret_access_key="worker-secret",
    )
    assert own.worker_env()["FLYTE_AWS_SECRET_ACCESS_KEY"] == "worker-secret"
    assert KEYS["secret_access_key"] not in own.worker_env().values()
    private = S3BlobStore(f"s3://{BUCKET}/flyte", endpoint_url=s3_endpoint, **KEYS, share_credentials=False)
    assert private.worker_env() == {"FLYTE_AWS_ENDPOINT": s3_endpoint}
