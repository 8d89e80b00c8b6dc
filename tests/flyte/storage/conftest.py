"""An S3-compatible server (moto in server mode) on a loopback port, shared by the session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import flyte.storage


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 and return its URL."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[str]:
    """Configure flyte.storage for the server, create a fresh bucket and return ``s3://bucket``."""
    config = flyte.storage.S3(
        endpoint=s3_endpoint, access_key_id="testing", secret_access_key="testing", region="eu-west-1", retries=0
    )
    flyte.storage.set_default_config(config)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    flyte.storage.get_underlying_filesystem("s3").mkdir(bucket)
    try:
        yield f"s3://{bucket}"
    finally:
        flyte.storage.set_default_config(None)
