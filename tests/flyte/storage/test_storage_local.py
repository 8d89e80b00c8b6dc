"""flyte.storage on the local filesystem and fsspec's in-memory filesystem."""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import flyte
import flyte.storage
from flyte.storage._transfer import _download_file, with_retries


async def test_put_and_get_copy_files_and_keep_names(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(1000))
    uploaded = await flyte.storage.put(str(source))
    assert uploaded.endswith("/data.bin") and uploaded != str(source)
    downloaded = await flyte.storage.get(uploaded)
    assert Path(downloaded).name == "data.bin"
    assert Path(downloaded).read_bytes() == source.read_bytes()
    explicit = await flyte.storage.get(uploaded, tmp_path / "nested" / "copy.bin")
    assert Path(explicit).read_bytes() == source.read_bytes()


async def test_directories_copy_recursively(tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "sub" / "b.txt").write_text("b")
    uploaded = await flyte.storage.put(str(tmp_path / "src"), recursive=True)
    downloaded = Path(await flyte.storage.get(uploaded, recursive=True))
    assert (downloaded / "a.txt").read_text() == "a"
    assert (downloaded / "sub" / "b.txt").read_text() == "b"


async def test_exists_streams_and_open(tmp_path: Path) -> None:
    target = str(tmp_path / "stream.bin")
    assert not await flyte.storage.exists(target)

    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"cd", b"ef"):
            yield piece

    assert await flyte.storage.put_stream(chunks(), to_path=target) == target
    assert await flyte.storage.exists(target) and flyte.storage.exists_sync(target)
    assert [c async for c in flyte.storage.get_stream(target, chunk_size=4)] == [b"abcd", b"ef"]
    named = await flyte.storage.put_stream(b"xyz", name="n.txt")
    assert named.endswith("/n.txt") and Path(named).read_bytes() == b"xyz"
    async with await flyte.storage.open(str(tmp_path / "w" / "o.txt"), "wb") as handle:
        await handle.write(b"hello")
    async with await flyte.storage.open(str(tmp_path / "w" / "o.txt"), "rb") as handle:
        assert await handle.read() == b"hello"


def test_paths_and_scratch_locations() -> None:
    assert flyte.storage.is_remote("s3://b/k") and flyte.storage.is_remote("gs://b/k")
    assert not flyte.storage.is_remote("/tmp/x") and not flyte.storage.is_remote("file:///tmp/x")
    assert flyte.storage.join("s3://b/", "a", "c.txt") == "s3://b/a/c.txt"
    path = flyte.storage.get_random_local_path("name.csv")
    assert path.name == "name.csv" and path.parent.is_dir() and not path.exists()
    assert flyte.storage.get_random_local_path() != flyte.storage.get_random_local_path()
    assert flyte.storage.get_random_local_directory().is_dir()
    assert type(flyte.storage.get_underlying_filesystem(path="/tmp")).__name__ == "LocalFileSystem"


def test_s3_config_produces_s3fs_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    config = flyte.storage.S3(
        endpoint="http://localhost:9000", access_key_id="k", secret_access_key="s", region="r", addressing_style="path"
    )
    kwargs = config.get_fsspec_kwargs()
    assert kwargs["key"] == "k" and kwargs["secret"] == "s"
    assert kwargs["client_kwargs"] == {"endpoint_url": "http://localhost:9000", "region_name": "r"}
    assert kwargs["config_kwargs"]["s3"] == {"addressing_style": "path"}
    assert flyte.storage.S3().get_fsspec_kwargs(anonymous=True)["anon"] is True
    sandbox = flyte.storage.S3.for_sandbox()
    assert (sandbox.endpoint, sandbox.access_key_id) == ("http://localhost:4566", "minio")
    monkeypatch.setenv("FLYTE_AWS_ENDPOINT", "http://e:1")
    monkeypatch.setenv("FLYTE_AWS_ACCESS_KEY_ID", "ak")
    assert flyte.storage.S3.auto(region="x") == flyte.storage.S3(endpoint="http://e:1", access_key_id="ak", region="x")
    assert flyte.storage.ABFS(account_name="acct").get_fsspec_kwargs()["account_name"] == "acct"
    assert flyte.storage.GCS().get_fsspec_kwargs()["retries"] == 3


def test_init_storage_and_default_config() -> None:
    sandbox = flyte.storage.S3.for_sandbox()
    flyte.init(storage=sandbox)
    try:
        assert flyte.storage.get_config() == sandbox
        other = flyte.storage.S3(endpoint="http://other:1")
        flyte.storage.set_default_config(other)
        assert flyte.storage.get_config() == other
        assert flyte.storage.get_configured_fsspec_kwargs("s3")["client_kwargs"]["endpoint_url"] == "http://other:1"
    finally:
        flyte.storage.set_default_config(None)
        flyte.init()
    assert flyte.storage.get_config() is None


async def test_transient_errors_are_retried_and_permanent_ones_are_not() -> None:
    flyte.storage.set_default_config(flyte.storage.Storage(retries=2, backoff=datetime.timedelta(0)))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "done"

    def missing() -> None:
        calls.append(1)
        raise FileNotFoundError("gone")

    try:
        assert await with_retries(flaky, description="flaky") == "done"
        assert len(calls) == 3
        calls.clear()
        with pytest.raises(FileNotFoundError):
            await with_retries(missing, description="missing")
        assert len(calls) == 1
    finally:
        flyte.storage.set_default_config(None)


async def test_large_downloads_from_stores_without_multipart_are_fetched_in_ranges(tmp_path: Path) -> None:
    memory = flyte.storage.get_underlying_filesystem("memory")
    payload = os.urandom(1024 * 1024 + 17)
    memory.pipe_file("/ranged/big.bin", payload)
    local = tmp_path / "big.bin"
    await asyncio.to_thread(_download_file, memory, "memory://ranged/big.bin", str(local), 64 * 1024, 4)
    assert local.read_bytes() == payload
    assert Path(await flyte.storage.get("memory://ranged/big.bin", chunk_size=100_000)).read_bytes() == payload
