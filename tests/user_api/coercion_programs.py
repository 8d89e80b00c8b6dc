"""Programs written for Flyte 2 that lean on its type coercions and on missing annotations."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypedDict

import pandas as pd
import pydantic
import typing_extensions

import flyte
from flyte.io import DataFrame

env = flyte.TaskEnvironment(name="coercions")


# --- no annotations -------------------------------------------------------------------------


@env.task
async def log_line(path: str, text: str):
    Path(path).write_text(text)


@env.task
def sync_log_line(path: str):
    Path(path).write_text("sync")


@env.task
async def no_inputs() -> str:
    return "ran"


@env.task
async def returns_anyway(x: int):
    return x * 2


@env.task
async def untyped_input(x) -> str:  # type: ignore[no-untyped-def]
    return f"{type(x).__name__}:{x!r}"


@env.task
async def calls_unannotated(path: str) -> str:
    result = await log_line(path, "from parent")
    return repr(result) + "|" + await no_inputs()


# --- numbers --------------------------------------------------------------------------------


@env.task
async def scale(x: float = 3) -> float:
    return x * 2


@env.task
async def kind_of(x: float) -> str:
    return type(x).__name__


@env.task
async def int_returned_for_float() -> float:
    return 5


@env.task
async def sums_via_child() -> float:
    return await scale(2) + await scale()


# --- structured inputs given as dicts -------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str = "p"


@dataclasses.dataclass
class Segment:
    start: Point
    end: Point


class Settings(pydantic.BaseModel):
    name: str
    retries: int = 1
    origin: Point | None = None


class Movie(TypedDict):
    title: str
    year: int


class Shelf(TypedDict):
    best: Movie
    others: list[Movie]


class ExtMovie(typing_extensions.TypedDict):
    title: str
    sequel: typing_extensions.NotRequired[Movie]


@env.task
async def length(s: Segment) -> str:
    assert isinstance(s, Segment) and isinstance(s.start, Point), type(s)
    return f"{type(s.start.x).__name__}:{abs(s.end.x - s.start.x) + abs(s.end.y - s.start.y)}"


@env.task
async def describe(settings: Settings) -> str:
    assert isinstance(settings, Settings), type(settings)
    origin = settings.origin
    return f"{settings.name}/{settings.retries}/{type(origin).__name__}"


@env.task
async def count_titles(shelf: Shelf) -> int:
    return 1 + len(shelf["others"])


@env.task
async def sequel_title(movie: ExtMovie) -> str:
    return movie.get("sequel", {"title": "none"})["title"]


@env.task
async def first_of_list(points: list[Point]) -> Point:
    return points[0]


@env.task
async def shelf_of(title: str) -> Shelf:
    return {"best": {"title": title, "year": 2000}, "others": []}


@env.task
async def passes_dicts() -> str:
    first = await first_of_list([{"x": 1, "y": 2}])
    return await length({"start": dataclasses.asdict(first), "end": {"x": 4, "y": 6}})


# --- data frames ----------------------------------------------------------------------------


@env.task
async def frame_kind(df: pd.DataFrame) -> str:
    return f"{type(df).__module__.split('.')[0]}:{len(df)}"


@env.task
async def handle_kind(df: DataFrame) -> str:
    frame = await df.open(pd.DataFrame).all()
    return f"{type(df).__name__}:{len(frame)}"


@env.task
async def make_handle(n: int) -> DataFrame:
    return DataFrame.from_df(pd.DataFrame({"a": list(range(n))}))


@env.task
async def make_frame_from_handle(n: int) -> pd.DataFrame:
    return DataFrame.from_df(pd.DataFrame({"a": list(range(n))}))


@env.task
async def pipeline(n: int) -> str:
    handle = await make_handle(n)
    frame = await make_frame_from_handle(n)
    return "|".join([type(handle).__name__, type(frame).__name__, await frame_kind(handle), await handle_kind(frame)])
