"""Workflows of the remote coercion tests (public ``flyte`` API only: the PyPI runtime runs them
on the session server, so their literals must be what Flyte 2 itself reads)."""

from __future__ import annotations

import dataclasses
from typing import TypedDict

import flyte

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
