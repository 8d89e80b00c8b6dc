"""Types and values shared by the type-engine tests (module level, so they pickle and import)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing
from typing import Annotated, NamedTuple, Optional, TypedDict

import pydantic


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 5


@dataclasses.dataclass
class Inner:
    a: int
    b: str = "x"


@dataclasses.dataclass
class Outer:
    inner: Inner
    numbers: list[int]
    scores: dict[str, float]
    maybe: Optional[int] = None  # noqa: UP045 - Optional spelled out on purpose
    color: Color = Color.RED
    inners: list[Inner] = dataclasses.field(default_factory=list)
    when: Optional[datetime.datetime] = None  # noqa: UP045


class Sub(pydantic.BaseModel):
    s: str
    colors: list[Color] = []


class Model(pydantic.BaseModel):
    x: int
    tags: list[str] = []
    sub: Optional[Sub] = None  # noqa: UP045
    color: Color = Color.GREEN
    level: Level = Level.LOW
    when: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    by_name: dict[str, Sub] = {}


class Pair(NamedTuple):
    total: int
    name: str


class Movie(TypedDict):
    title: str
    year: int


class Opaque:
    """A class no transformer knows; it travels as a pickle."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.n == self.n

    def __hash__(self) -> int:
        return self.n


UTC = datetime.timezone.utc

# (id, python type, value): every supported family, including nesting.
CASES: list[tuple[str, typing.Any, typing.Any]] = [
    ("int", int, 42),
    ("int-negative", int, -(2**63)),
    ("float", float, 1.5),
    ("str", str, "héllo"),
    ("bool", bool, True),
    ("none", type(None), None),
    ("bytes", bytes, b"\x00\xffab"),
    ("datetime", datetime.datetime, datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
    ("date", datetime.date, datetime.date(2024, 1, 2)),
    ("timedelta", datetime.timedelta, datetime.timedelta(days=1, seconds=3, microseconds=500)),
    ("list-int", list[int], [1, 2, 3]),
    ("list-list-str", list[list[str]], [["a"], [], ["b", "c"]]),
    ("dict-str-int", dict[str, int], {"b": 2, "a": 1}),
    ("dict-str-list", dict[str, list[float]], {"x": [1.0, 2.5]}),
    ("dict-untyped", dict, {"a": 1, "b": [1, "x"], "c": {"d": None}}),
    ("dict-int-keys", dict[int, str], {1: "a", 2: "b"}),
    ("optional-none", Optional[int], None),  # noqa: UP045
    ("optional-some", Optional[int], 3),  # noqa: UP045
    ("union-str", int | str, "x"),
    ("union-list", int | list[int] | None, [1]),
    ("list-optional", list[Optional[int]], [None, 1]),  # noqa: UP045
    ("enum", Color, Color.GREEN),
    ("int-enum", Level, Level.HIGH),
    ("optional-enum", Optional[Color], Color.RED),  # noqa: UP045
    ("dict-enum", dict[str, Color], {"k": Color.RED}),
    ("dataclass", Inner, Inner(1)),
    (
        "dataclass-nested",
        Outer,
        Outer(Inner(1), [1], {"a": 1.0}, 2, Color.GREEN, [Inner(2, "y")], datetime.datetime(2024, 1, 1)),
    ),
    ("list-dataclass", list[Inner], [Inner(1), Inner(2, "z")]),
    ("optional-dataclass", Optional[Inner], Inner(5)),  # noqa: UP045
    ("pydantic", Model, Model(x=1, tags=["a"], sub=Sub(s="q", colors=[Color.RED]), by_name={"k": Sub(s="y")})),
    ("optional-pydantic", Optional[Model], Model(x=2)),  # noqa: UP045
    ("tuple", tuple[int, str, list[float]], (1, "a", [1.0])),
    ("namedtuple", Pair, Pair(3, "p")),
    ("typeddict", Movie, {"title": "Up", "year": 2009}),
    ("annotated", Annotated[int, "meters"], 7),
    ("annotated-list", Annotated[list[int], "meta"], [1]),
    ("pickle", Opaque, Opaque(3)),
    ("list-any", list[typing.Any], [1, "a", None]),
]
