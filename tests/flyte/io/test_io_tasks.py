"""Tasks passing File, Dir and data frames to each other in local mode."""

from __future__ import annotations

from pathlib import Path

import flyte
from flyte.io import Dir, File

env = flyte.TaskEnvironment(name="io_tasks")


@env.task
async def write_file(text: str) -> File:
    f = File.new_remote("note.txt")
    async with f.open("wb") as handle:
        await handle.write(text.encode())
    return f


@env.task
async def read_file(f: File) -> str:
    async with f.open("rb") as handle:
        return (await handle.read()).decode()


@env.task
def sync_size(f: File) -> int:
    with f.open_sync("rb") as handle:
        return len(handle.read())


@env.task
async def list_dir(d: Dir) -> list[str]:
    return [f.name async for f in d.walk()]


@env.task
async def file_pipeline(text: str) -> tuple[str, int]:
    f = await write_file(text)
    return await read_file(f), await sync_size.aio(f)


def test_files_flow_between_tasks() -> None:
    run = flyte.run(file_pipeline, "hello from a task")
    assert run.outputs() == ("hello from a task", 17)


def test_dirs_flow_between_tasks(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")

    @env.task
    async def make_dir() -> Dir:
        return await Dir.from_local(tmp_path)

    @env.task
    async def dir_pipeline() -> list[str]:
        return await list_dir(await make_dir())

    assert flyte.run(dir_pipeline).outputs()[0] == ["a.txt", "b.txt"]
