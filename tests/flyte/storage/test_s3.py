"""flyte.storage and flyte.io against a real S3-compatible server (moto) on a loopback port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import flyte
import flyte.storage
from flyte.io import DataFrame, Dir, File


async def test_upload_download_exists_and_stream(s3_bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"hello s3")
    uri = await flyte.storage.put(str(source), f"{s3_bucket}/x/a.txt")
    assert uri == f"{s3_bucket}/x/a.txt"
    assert await flyte.storage.exists(uri) and flyte.storage.exists_sync(uri)
    assert not await flyte.storage.exists(f"{s3_bucket}/x/missing")
    assert Path(await flyte.storage.get(uri)).read_bytes() == b"hello s3"
    assert b"".join([c async for c in flyte.storage.get_stream(uri, chunk_size=3)]) == b"hello s3"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    streamed = await flyte.storage.put_stream(chunks(), to_path=f"{s3_bucket}/s.txt")
    async with await flyte.storage.open(streamed, "rb") as handle:
        assert await handle.read() == b"one,two"


async def test_large_files_move_in_parts(s3_bucket: str, tmp_path: Path) -> None:
    payload = os.urandom(12 * 1024 * 1024 + 5)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    uri = await flyte.storage.put(str(source), f"{s3_bucket}/big.bin", chunk_size=5 * 1024 * 1024, max_concurrency=3)
    info = flyte.storage.get_underlying_filesystem("s3").info(uri)
    assert info["ETag"].strip('"').endswith("-3"), "a multi-part upload has an ETag ending in -<parts>"
    local = await flyte.storage.get(uri, chunk_size=5 * 1024 * 1024, max_concurrency=3)
    assert Path(local).read_bytes() == payload


async def test_directories_round_trip(s3_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "1.txt").write_text("1")
    (tmp_path / "d" / "sub" / "2.txt").write_text("2")
    uri = await flyte.storage.put(str(tmp_path / "d"), f"{s3_bucket}/dir", recursive=True)
    local = Path(await flyte.storage.get(uri, recursive=True))
    assert (local / "1.txt").read_text() == "1" and (local / "sub" / "2.txt").read_text() == "2"
    remote = Dir.from_existing_remote(uri)
    assert sorted(f.name for f in await remote.list_files()) == ["1.txt"]
    assert sorted([f.name async for f in remote.walk()]) == ["1.txt", "2.txt"]


def test_tasks_pass_files_dirs_and_frames_through_s3(s3_bucket: str, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    env = flyte.TaskEnvironment(name="s3io")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("x")
    local_file = tmp_path / "local.txt"
    local_file.write_text("uploaded")

    @env.task
    async def produce() -> tuple[File, Dir, DataFrame]:
        written = File.new_remote("w.txt")
        async with written.open("wb") as handle:
            await handle.write(b"written")
        folder = await Dir.from_local(tmp_path / "in")
        frame = DataFrame.from_df(pd.DataFrame({"v": [1, 2, 3]}))
        return written, folder, frame

    @env.task
    async def consume(f: File, d: Dir, df: DataFrame, extra: File) -> str:
        async with f.open("rb") as handle:
            content = (await handle.read()).decode()
        names = [x.name async for x in d.walk()]
        total = int((await df.open(pd.DataFrame).all())["v"].sum())
        return f"{content}|{names}|{total}|{f.path[:5]}|{d.path[:5]}|{df.uri[:5]}|{extra.path[:5]}"

    @env.task
    async def pipeline() -> str:
        f, d, df = await produce()
        return await consume(f, d, df, await File.from_local(local_file))

    run = flyte.with_runcontext(raw_data_path=f"{s3_bucket}/raw").run(pipeline)
    assert run.outputs()[0] == "written|['x.txt']|6|s3://|s3://|s3://|s3://"
