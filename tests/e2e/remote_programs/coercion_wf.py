"""Workflows of the remote coercion tests (public ``flyte`` API only: the PyPI runtime runs them
on the session server, so their literals must be what Flyte 2 itself reads)."""

from __future__ import annotations

import dataclasses
from typing import TypedDict

import pandas as pd

import flyte
from flyte.io import DataFrame

env = flyte.TaskEnvironment(name="coercion_e2e")


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str = "p"


class Movie(TypedDict):
    title: str
    year: int


@env.task
async def norm(p: Point) -> float:
    return abs(p.x) + abs(p.y)


@env.task
async def scale(x: float = 3) -> float:
    return x * 2


@env.task
async def no_annotation(text: str):
    print(f"NO-ANNOTATION {text}", flush=True)


@env.task
async def titles(movies: list[Movie]) -> str:
    return ",".join(movie["title"] for movie in movies)


@env.task
async def no_inputs() -> str:
    return "ran"


frames = flyte.TaskEnvironment(name="coercion_frames")
frames.add_dependency(env)


@frames.task
async def make_frame(n: int) -> pd.DataFrame:
    return DataFrame.from_df(pd.DataFrame({"a": list(range(n))}))  # a handle for a pd.DataFrame output


@frames.task
async def count_rows(df: pd.DataFrame) -> str:
    return f"{type(df).__module__.split('.')[0]}:{len(df)}"


@frames.task
async def frames_pipeline(n: int) -> str:
    frame = await make_frame(n)
    kind = type(frame).__module__.split(".")[0]  # the child declared pd.DataFrame: a parent gets pandas
    return f"{kind}|{await count_rows(DataFrame.from_df(frame))}|{await norm({'x': n, 'y': 1})}"
