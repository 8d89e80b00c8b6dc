"""Dataclass, pydantic, enum, Optional, union and datetime inputs; several outputs."""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pydantic

import flyte

env = flyte.TaskEnvironment(name="typed-data")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Box:
    width: int
    height: float
    tags: list[str]


class Owner(pydantic.BaseModel):
    name: str
    teams: dict[str, int] = {}


@env.task
async def describe(
    box: Box, owner: Owner, color: Color, when: datetime, note: str | None = None, size: int | str = 1
) -> tuple[Box, str, datetime, Color]:
    bigger = Box(width=box.width * 2, height=box.height + 0.5, tags=[*box.tags, color.value])
    summary = f"{owner.name} owns {sorted(owner.teams)} note={note} size={size}"
    return bigger, summary, when + timedelta(days=1), Color.GREEN


if __name__ == "__main__":
    flyte.init()
    outputs = flyte.run(
        describe,
        box=Box(width=2, height=1.5, tags=["a"]),
        owner=Owner(name="ana", teams={"ml": 1, "data": 2}),
        color=Color.RED,
        when=datetime(2026, 1, 1, tzinfo=timezone.utc),
        size="large",
    ).outputs()
    for value in outputs:
        print(repr(value))
