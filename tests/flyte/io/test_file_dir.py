"""File and Dir: wire encoding, round trips through the TypeEngine, and their I/O methods."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from flyteidl2.core import literals_pb2, types_pb2

from flyte.io import Dir, File, HashFunction
from flyte.types import TypeEngine, TypeTransformerFailedError


def test_literal_types_are_blobs_with_the_right_dimensionality() -> None:
    assert TypeEngine.to_literal_type(File) == types_pb2.LiteralType(blob=types_pb2.BlobType())
    assert TypeEngine.to_literal_type(File["csv"]) == types_pb2.LiteralType(blob=types_pb2.BlobType())
    multipart = types_pb2.LiteralType(blob=types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART))
    assert TypeEngine.to_literal_type(Dir) == multipart
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(File)) is File
    assert TypeEngine.guess_python_type(multipart) is Dir


async def test_file_round_trip_keeps_path_format_and_hash() -> None:
    f = File(path="s3://bucket/data/a.csv", format="csv", hash="h1")
    literal = await TypeEngine.to_literal(f, File)
    assert literal.scalar.blob.uri == "s3://bucket/data/a.csv"
    assert literal.scalar.blob.metadata.type == types_pb2.BlobType(format="csv")
    assert literal.hash == "h1"
    back = await TypeEngine.to_python_value(literal, File["csv"])
    assert type(back) is File["csv"]
    assert (back.path, back.name, back.format, back.hash) == ("s3://bucket/data/a.csv", "a.csv", "csv", "h1")


async def test_dir_round_trip_and_dimensionality_mismatch() -> None:
    literal = await TypeEngine.to_literal(Dir.from_existing_remote("s3://b/imgs/", dir_cache_key="k"), Dir)
    assert literal.scalar.blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
    assert literal.hash == "k"
    back = await TypeEngine.to_python_value(literal, Dir)
    assert (back.path, back.name, back.hash) == ("s3://b/imgs/", "imgs", "k")
    with pytest.raises(TypeTransformerFailedError, match="single-part"):
        await TypeEngine.to_python_value(literal, File)
    single = await TypeEngine.to_literal(File(path="/x"), File)
    with pytest.raises(TypeTransformerFailedError, match="multi-part"):
        await TypeEngine.to_python_value(single, Dir)
    with pytest.raises(TypeTransformerFailedError):
        await TypeEngine.to_literal(3, File)
    not_blob = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    with pytest.raises(TypeTransformerFailedError, match="not a blob"):
        await TypeEngine.to_python_value(not_blob, File)


async def test_from_local_references_local_files_and_hashes_content(tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"abc")
    plain = await File.from_local(source)
    assert plain.path == str(source) and plain.name == "a.txt" and plain.hash is None
    hashed = await File.from_local(source, hash_method=HashFunction.from_fn(lambda b: hashlib.md5(b).hexdigest()))
    assert hashed.hash == hashlib.md5(b"abc").hexdigest()
    assert (await TypeEngine.to_literal(hashed, File)).hash == hashed.hash
    assert File.from_local_sync(source, hash_method="precomputed").hash == "precomputed"
    copied = await File.from_local(source, remote_destination=str(tmp_path / "out" / "copy.txt"))
    assert Path(copied.path).read_bytes() == b"abc" and copied.name == "a.txt"
    with pytest.raises(FileNotFoundError):
        await File.from_local(tmp_path / "missing")


async def test_new_remote_open_download_exists(tmp_path: Path) -> None:
    from flyte.io._hashing import HashlibAccumulator

    f = File.new_remote("out.bin", hash_method=HashlibAccumulator("sha256"))
    assert not await f.exists()
    async with f.open("wb") as handle:
        await handle.write(b"part1-")
        await handle.write(b"part2")
    assert f.hash == hashlib.sha256(b"part1-part2").hexdigest()
    assert await f.exists() and f.exists_sync()
    async with f.open("rb") as handle:
        assert await handle.read() == b"part1-part2"
    with f.open_sync("rb") as sync_handle:
        assert sync_handle.read() == b"part1-part2"
    target = tmp_path / "dl.bin"
    assert Path(await f.download(target)).read_bytes() == b"part1-part2"
    assert Path(f.download_sync()).read_bytes() == b"part1-part2"


async def test_dir_walk_list_get_and_download(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.csv").write_text("a")
    (root / "b.txt").write_text("b")
    (root / "sub" / "c.csv").write_text("c")
    (root / "sub" / "deeper" / "d.csv").write_text("d")
    d = await Dir.from_local(root)
    assert [f.name async for f in d.walk()] == ["a.csv", "b.txt", "c.csv", "d.csv"]
    assert [f.name async for f in d.walk(max_depth=2)] == ["a.csv", "b.txt", "c.csv"]
    assert [f.name for f in d.walk_sync(file_pattern="*.csv")] == ["a.csv", "c.csv", "d.csv"]
    assert [f.name for f in await d.list_files()] == ["a.csv", "b.txt"]
    assert [f.name for f in d.list_files_sync()] == ["a.csv", "b.txt"]
    found = await d.get_file("b.txt")
    assert found is not None and found.name == "b.txt" and await d.get_file("zzz") is None
    copy = Path(await d.download(tmp_path / "copy"))
    assert (copy / "sub" / "deeper" / "d.csv").read_text() == "d"
    assert await d.exists() and d.exists_sync()
    assert Dir.empty().is_empty and not d.is_empty
    uploaded = await Dir.from_local_sync(root, remote_destination=str(tmp_path / "up")).list_files()
    assert [f.name for f in uploaded] == ["a.csv", "b.txt"]
    with pytest.raises(NotADirectoryError):
        await Dir.from_local(root / "a.csv")


def test_pydantic_schema_and_nesting_in_models() -> None:
    import pydantic

    schema = File.model_json_schema()
    assert schema["x-flyte-type"] == "file" and set(schema["properties"]) == {"path", "name", "format", "hash"}
    assert File.schema_match(schema) and Dir.schema_match(Dir.model_json_schema())

    class Holder(pydantic.BaseModel):
        f: File
        d: Dir

    holder = Holder(f=File(path="s3://b/k.txt"), d=Dir(path="s3://b/d"))
    assert Holder.model_validate(holder.model_dump()) == holder
    assert holder.model_dump()["f"] == {"path": "s3://b/k.txt", "name": "k.txt", "format": "", "hash": None}


def test_importing_flyte_io_does_not_import_frame_libraries() -> None:
    probe = (
        "import sys, flyte.io; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow', 'polars')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
