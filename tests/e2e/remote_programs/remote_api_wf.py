"""Workflows of the ``flyte.remote`` API tests (public ``flyte`` API only: the PyPI runtime runs them)."""

import dataclasses

import flyte
import flyte.io
import flyte.report

env = flyte.TaskEnvironment(name="remote_api")


@dataclasses.dataclass
class Summary:
    name: str
    total: int


@env.task(report=True)
async def with_report(title: str) -> int:
    flyte.report.log(f"<h1>{title}</h1>", do_flush=True)
    return len(title)


@env.task
async def read_file(file: flyte.io.File) -> str:
    async with file.open("rb") as stream:
        data = await stream.read()
    return bytes(data).decode()


@env.task
async def read_dir(folder: flyte.io.Dir) -> list[str]:
    local = await folder.download()
    import pathlib

    root = pathlib.Path(local)
    return sorted(f"{p.relative_to(root).as_posix()}={p.read_text()}" for p in root.rglob("*") if p.is_file())


@env.task
async def summarize(name: str, values: list[int]) -> Summary:
    return Summary(name=name, total=sum(values))


@env.task
async def broken(x: int) -> int:
    raise ValueError(f"broken {x}")


@env.task
async def parent_of_broken(x: int) -> int:
    return await broken(x)


@env.task(cache="auto", retries=1)
async def env_value(key: str, fallback: str = "none") -> str:
    import os

    return os.environ.get(key, fallback)


@env.task
async def logs_at_levels(text: str) -> str:
    import logging

    print(f"user-print {text}", flush=True)
    logging.getLogger("flyte.user").debug(f"user-debug {text}")
    logging.getLogger("flyte").info(f"flyte-info {text}")
    return text
