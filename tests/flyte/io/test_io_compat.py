"""File, Dir and DataFrame literals written by PyPI ``flyte==2.12.1`` decode here, and ours there.

The reference runs in a subprocess, with the interpreter of ``tests/reference.py``.
Without one the tests skip. Each direction exchanges serialized ``Literal`` files in a temp dir.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flyteidl2.core import literals_pb2, types_pb2

import flyte.storage
from flyte.io import DataFrame, Dir, File
from flyte.types import TypeEngine


def _reference_python() -> str:
    """The reference interpreter (built once per machine, see ``tests/reference.py``)."""
    from reference import find_reference_python

    return find_reference_python()


def _run_reference(script: str, workdir: Path) -> dict[str, object]:
    python = _reference_python()
    path = workdir / "ref_script.py"
    path.write_text(textwrap.dedent(script))
    done = subprocess.run([python, str(path), str(workdir)], capture_output=True, text=True, timeout=90, cwd=workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads((workdir / "result.json").read_text())
    return result


REFERENCE_WRITES = """
    import asyncio, json, os, sys
    import flyte
    from flyte.io import DataFrame, Dir, File
    from flyte.types import TypeEngine

    out = sys.argv[1]
    env = flyte.TaskEnvironment(name="compat")

    async def save(name, value, t):
        lit = await TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t))
        with open(os.path.join(out, name + ".pb"), "wb") as fh:
            fh.write(lit.SerializeToString())
        with open(os.path.join(out, name + ".type.pb"), "wb") as fh:
            fh.write(TypeEngine.to_literal_type(t).SerializeToString())

    @env.task
    async def produce() -> str:
        written = File.new_remote("from_ref.txt")
        async with written.open("wb") as fh:
            await fh.write(b"written by the reference")
        await save("file", written, File)
        await save("file_meta", File(path="s3://bucket/a.csv", format="csv", hash="h1"), File)
        await save("dir", await Dir.from_local(os.path.join(out, "ref_dir")), Dir)
        df = DataFrame.from_existing_remote(os.path.join(out, "dataset"), format="parquet")
        await save("dataframe", df, DataFrame)
        return "ok"

    os.makedirs(os.path.join(out, "ref_dir", "sub"), exist_ok=True)
    open(os.path.join(out, "ref_dir", "one.txt"), "w").write("1")
    open(os.path.join(out, "ref_dir", "sub", "two.txt"), "w").write("2")
    flyte.init()
    flyte.run(produce)
    json.dump({"done": True}, open(os.path.join(out, "result.json"), "w"))
"""


def _load(path: Path) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    literal.ParseFromString(path.read_bytes())
    return literal


async def test_reference_literals_decode_here(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    (tmp_path / "dataset").mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "dataset" / "00000")
    _run_reference(REFERENCE_WRITES, tmp_path)

    for name, t in (("file", File), ("dir", Dir), ("dataframe", DataFrame)):
        declared = types_pb2.LiteralType()
        declared.ParseFromString((tmp_path / f"{name}.type.pb").read_bytes())
        assert declared == TypeEngine.to_literal_type(t), name

    written = await TypeEngine.to_python_value(_load(tmp_path / "file.pb"), File)
    async with written.open("rb") as handle:
        assert await handle.read() == b"written by the reference"
    meta = await TypeEngine.to_python_value(_load(tmp_path / "file_meta.pb"), File)
    assert (meta.path, meta.name, meta.format, meta.hash) == ("s3://bucket/a.csv", "a.csv", "csv", "h1")
    assert _load(tmp_path / "file_meta.pb") == await TypeEngine.to_literal(meta, File)

    folder = await TypeEngine.to_python_value(_load(tmp_path / "dir.pb"), Dir)
    assert sorted([f.name async for f in folder.walk()]) == ["one.txt", "two.txt"]
    assert _load(tmp_path / "dir.pb") == await TypeEngine.to_literal(folder, Dir)

    frame = await TypeEngine.to_python_value(_load(tmp_path / "dataframe.pb"), DataFrame)
    assert frame.format == "parquet"
    assert (await frame.open(pd.DataFrame).all())["a"].tolist() == [1, 2]
    assert _load(tmp_path / "dataframe.pb") == await TypeEngine.to_literal(frame, DataFrame)


REFERENCE_READS = """
    import asyncio, json, os, sys
    import flyte
    from flyte.io import DataFrame, Dir, File
    from flyte.types import TypeEngine
    from flyteidl2.core import literals_pb2

    out = sys.argv[1]

    def load(name):
        lit = literals_pb2.Literal()
        lit.ParseFromString(open(os.path.join(out, name + ".pb"), "rb").read())
        return lit

    async def main():
        result = {}
        f = await TypeEngine.to_python_value(load("file"), File)
        async with f.open("rb") as fh:
            content = await fh.read()
        result["file"] = [f.name, f.format, f.hash, content.decode()]
        d = await TypeEngine.to_python_value(load("dir"), Dir)
        result["dir"] = sorted([x.name async for x in d.walk()])
        df = await TypeEngine.to_python_value(load("dataframe"), DataFrame)
        result["dataframe"] = [df.uri, df.format]
        result["offloaded"] = await TypeEngine.to_python_value(load("offloaded"), list[int])
        json.dump(result, open(os.path.join(out, "result.json"), "w"))

    flyte.init()
    asyncio.run(main())
"""


async def test_our_literals_decode_in_the_reference(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    source = tmp_path / "ours.csv"
    source.write_text("a,b\n1,2\n")
    ours = await File.from_local(source, hash_method="content-v1")
    ours.format = "csv"
    (tmp_path / "file.pb").write_bytes((await TypeEngine.to_literal(ours, File)).SerializeToString())
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "sub" / "y.txt").write_text("y")
    folder = await TypeEngine.to_literal(await Dir.from_local(tmp_path / "d"), Dir)
    (tmp_path / "dir.pb").write_bytes(folder.SerializeToString())
    frame = await TypeEngine.to_literal(DataFrame.from_df(pd.DataFrame({"a": [1]})), DataFrame)
    (tmp_path / "dataframe.pb").write_bytes(frame.SerializeToString())
    big = await TypeEngine.to_literal(list(range(500)), list[int])
    offloaded = await flyte.storage.offload_literal(big, 100, inferred_type=TypeEngine.to_literal_type(list[int]))
    (tmp_path / "offloaded.pb").write_bytes(offloaded.SerializeToString())

    result = _run_reference(REFERENCE_READS, tmp_path)

    assert result["file"] == ["ours.csv", "csv", "content-v1", "a,b\n1,2\n"]
    assert result["dir"] == ["x.txt", "y.txt"]
    assert result["dataframe"] == [frame.scalar.structured_dataset.uri, "parquet"]
    assert result["offloaded"] == list(range(500))


REFERENCE_PANDAS = """
    import asyncio, json, os, sys
    import flyte, pandas as pd
    from flyte.types import TypeEngine
    from flyteidl2.core import literals_pb2

    out = sys.argv[1]
    env = flyte.TaskEnvironment(name="compat_pandas")

    @env.task
    async def exchange() -> str:
        frame_type = TypeEngine.to_literal_type(pd.DataFrame)
        lit = await TypeEngine.to_literal(pd.DataFrame({"a": [1, 2]}), pd.DataFrame, frame_type)
        open(os.path.join(out, "ref_frame.pb"), "wb").write(lit.SerializeToString())
        ours = literals_pb2.Literal()
        ours.ParseFromString(open(os.path.join(out, "our_frame.pb"), "rb").read())
        frame = await TypeEngine.to_python_value(ours, pd.DataFrame)
        json.dump({"ours": frame["q"].tolist()}, open(os.path.join(out, "result.json"), "w"))
        return "ok"

    flyte.init()
    flyte.run(exchange)
"""


async def test_pandas_frames_cross_both_ways(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    probe = subprocess.run([_reference_python(), "-c", "import pandas, pyarrow"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("the reference interpreter has no pandas/pyarrow (flyte 2.12.1 does not depend on them)")
    ours = await TypeEngine.to_literal(pd.DataFrame({"q": [3, 4]}), pd.DataFrame)
    (tmp_path / "our_frame.pb").write_bytes(ours.SerializeToString())
    result = _run_reference(REFERENCE_PANDAS, tmp_path)
    assert result["ours"] == [3, 4]
    theirs = await TypeEngine.to_python_value(_load(tmp_path / "ref_frame.pb"), pd.DataFrame)
    assert theirs["a"].tolist() == [1, 2]


# Both sides import this module (written to the test's directory), so the dataclass is the same.
CRATE_TYPES = """
import dataclasses
from typing import Optional

from flyte.io import DataFrame, Dir, File


@dataclasses.dataclass
class Crate:
    note: File
    files: list[File]
    folder: Optional[Dir]
    frame: DataFrame
    by_name: dict[str, File] = dataclasses.field(default_factory=dict)
"""

REFERENCE_WRITES_CRATE = """
    import json, os, sys
    import flyte
    from flyte.io import DataFrame, Dir, File
    from flyte.types import TypeEngine
    from crate_types import Crate

    out = sys.argv[1]
    env = flyte.TaskEnvironment(name="compat_crate")

    @env.task
    async def produce() -> str:
        note = File.new_remote("note.txt")
        async with note.open("wb") as fh:
            await fh.write(b"crated by the reference")
        crate = Crate(
            note=note,
            files=[note, File(path="s3://bucket/a.csv", format="csv", hash="h1")],
            folder=await Dir.from_local(os.path.join(out, "ref_dir")),
            frame=DataFrame.from_existing_remote(os.path.join(out, "dataset"), format="parquet"),
            by_name={"n": note},
        )
        lit = await TypeEngine.to_literal(crate, Crate, TypeEngine.to_literal_type(Crate))
        open(os.path.join(out, "crate.pb"), "wb").write(lit.SerializeToString())
        open(os.path.join(out, "crate.type.pb"), "wb").write(TypeEngine.to_literal_type(Crate).SerializeToString())
        return "ok"

    os.makedirs(os.path.join(out, "ref_dir", "sub"), exist_ok=True)
    open(os.path.join(out, "ref_dir", "one.txt"), "w").write("1")
    open(os.path.join(out, "ref_dir", "sub", "two.txt"), "w").write("2")
    flyte.init()
    flyte.run(produce)
    json.dump({"done": True}, open(os.path.join(out, "result.json"), "w"))
"""


def _import_crate_types(workdir: Path) -> ModuleType:
    (workdir / "crate_types.py").write_text(CRATE_TYPES)
    spec = importlib.util.spec_from_file_location("crate_types", workdir / "crate_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crate_types"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def crate_types(tmp_path: Path) -> Iterator[ModuleType]:
    try:
        yield _import_crate_types(tmp_path)
    finally:
        sys.modules.pop("crate_types", None)


async def test_reference_dataclass_of_files_decodes_here(tmp_path: Path, crate_types: ModuleType) -> None:
    pd = pytest.importorskip("pandas")
    (tmp_path / "dataset").mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "dataset" / "00000")
    _run_reference(REFERENCE_WRITES_CRATE, tmp_path)
    crate_type = crate_types.Crate

    declared = types_pb2.LiteralType()
    declared.ParseFromString((tmp_path / "crate.type.pb").read_bytes())
    assert declared.SerializeToString(deterministic=True) == TypeEngine.to_literal_type(crate_type).SerializeToString(
        deterministic=True
    )

    theirs = _load(tmp_path / "crate.pb")
    crate = await TypeEngine.to_python_value(theirs, crate_type)
    async with crate.by_name["n"].open("rb") as handle:
        assert await handle.read() == b"crated by the reference"
    assert (crate.files[1].path, crate.files[1].format, crate.files[1].hash) == ("s3://bucket/a.csv", "csv", "h1")
    assert sorted([f.name async for f in crate.folder.walk()]) == ["one.txt", "two.txt"]
    assert (await crate.frame.open(pd.DataFrame).all())["a"].tolist() == [1, 2]
    ours = await TypeEngine.to_literal(crate, crate_type, TypeEngine.to_literal_type(crate_type))
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


REFERENCE_READS_CRATE = """
    import asyncio, json, os, sys
    import flyte
    from flyte.types import TypeEngine
    from flyteidl2.core import literals_pb2
    from crate_types import Crate

    out = sys.argv[1]

    async def main():
        lit = literals_pb2.Literal()
        lit.ParseFromString(open(os.path.join(out, "crate.pb"), "rb").read())
        crate = await TypeEngine.to_python_value(lit, Crate)
        again = await TypeEngine.to_literal(crate, Crate, TypeEngine.to_literal_type(Crate))
        async with crate.note.open("rb") as fh:
            content = (await fh.read()).decode()
        json.dump(
            {
                "note": [crate.note.name, crate.note.hash, content],
                "files": [[f.path, f.format, f.hash] for f in crate.files],
                "folder": sorted([x.name async for x in crate.folder.walk()]),
                "frame": [crate.frame.uri, crate.frame.format],
                "by_name": sorted(crate.by_name),
                "reencoded": again.SerializeToString(deterministic=True).hex(),
            },
            open(os.path.join(out, "result.json"), "w"),
        )

    flyte.init()
    asyncio.run(main())
"""


async def test_our_dataclass_of_files_decodes_in_the_reference(tmp_path: Path, crate_types: ModuleType) -> None:
    pd = pytest.importorskip("pandas")
    source = tmp_path / "ours.txt"
    source.write_text("crated by us")
    note = await File.from_local(source, hash_method="content-v1")
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "sub" / "y.txt").write_text("y")
    crate_type = crate_types.Crate
    crate = crate_type(
        note=note,
        files=[File(path="s3://bucket/b.csv", format="csv")],
        folder=await Dir.from_local(tmp_path / "d"),
        frame=DataFrame.from_df(pd.DataFrame({"a": [1]})),
        by_name={"n": note, "m": note},
    )
    ours = await TypeEngine.to_literal(crate, crate_type, TypeEngine.to_literal_type(crate_type))
    (tmp_path / "crate.pb").write_bytes(ours.SerializeToString())

    result = _run_reference(REFERENCE_READS_CRATE, tmp_path)

    assert result["note"] == ["ours.txt", "content-v1", "crated by us"]
    assert result["files"] == [["s3://bucket/b.csv", "csv", None]]
    assert result["folder"] == ["x.txt", "y.txt"]
    assert result["frame"] == [crate.frame.uri, "parquet"]
    assert result["by_name"] == ["m", "n"]
    assert result["reencoded"] == ours.SerializeToString(deterministic=True).hex()
