"""The command-line text → Python value conversions of task inputs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
from pathlib import Path
from typing import Literal, Optional

import click
import pydantic
import pytest

from flyte.cli._params import (
    input_options,
    param_type_for,
    parse_docstring_args,
    parse_duration,
    short_signature,
    short_type_name,
)

EMPTY = inspect.Parameter.empty


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@dataclasses.dataclass
class Inner:
    n: int


@dataclasses.dataclass
class Outer:
    inner: Inner
    tags: list[str]
    mode: Mode = Mode.FAST


class Model(pydantic.BaseModel):
    name: str
    size: int = 1


def convert(tp: object, text: str) -> object:
    param_type = param_type_for(tp)
    assert param_type is not None
    return param_type.convert(text, None, None)


def test_scalars() -> None:
    assert convert(int, "3") == 3
    assert convert(float, "2.5") == 2.5
    assert convert(str, "x y") == "x y"
    assert param_type_for(bool) is None, "booleans are flags"
    assert convert(Optional[int], "4") == 4  # noqa: UP045 (the typing form must work too)


def test_enum_by_name_or_value() -> None:
    assert convert(Mode, "SLOW") is Mode.SLOW
    assert convert(Mode, "slow") is Mode.SLOW
    with pytest.raises(click.BadParameter, match="'MEDIUM' is not one of 'FAST', 'SLOW'"):
        convert(Mode, "MEDIUM")


def test_literal_choices() -> None:
    assert convert(Literal["a", "b"], "b") == "b"
    with pytest.raises(click.BadParameter):
        convert(Literal["a", "b"], "c")


def test_nested_dataclass_from_json() -> None:
    value = convert(Outer, '{"inner": {"n": 2}, "tags": ["t"], "mode": "slow"}')
    assert value == Outer(inner=Inner(n=2), tags=["t"], mode=Mode.SLOW)


def test_pydantic_model_and_containers() -> None:
    assert convert(Model, '{"name": "m"}') == Model(name="m", size=1)
    assert convert(list[Inner], '[{"n": 1}, {"n": 2}]') == [Inner(1), Inner(2)]
    assert convert(dict[str, float], '{"a": 1}') == {"a": 1.0}


def test_invalid_structured_values_name_the_problem() -> None:
    with pytest.raises(click.BadParameter, match=r"not a valid Outer: inner\.n: .*valid integer"):
        convert(Outer, '{"inner": {"n": "x"}, "tags": []}')
    with pytest.raises(click.BadParameter, match="is not valid JSON"):
        convert(list[int], "1, 2")


def test_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: from-yaml\nsize: 3\n")
    (tmp_path / "l.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{")
    assert convert(Model, str(tmp_path / "m.yaml")) == Model(name="from-yaml", size=3)
    assert convert(list[int], str(tmp_path / "l.json")) == [1, 2]
    with pytest.raises(click.BadParameter, match="is not valid JSON"):
        convert(list[int], str(tmp_path / "bad.json"))


def test_union_takes_json_or_plain_text() -> None:
    assert convert(int | str, "5") == 5
    assert convert(int | str, "five") == "five"


def test_datetimes() -> None:
    assert convert(dt.datetime, "2024-05-01T12:30:00") == dt.datetime(2024, 5, 1, 12, 30)
    assert convert(dt.datetime, "2024-05-01T12:30:00Z").tzinfo is not None  # type: ignore[attr-defined]
    assert convert(dt.date, "2024-05-01") == dt.date(2024, 5, 1)
    assert isinstance(convert(dt.datetime, "now"), dt.datetime)
    with pytest.raises(click.BadParameter, match="ISO 8601"):
        convert(dt.datetime, "yesterday-ish")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("1.5", 1.5), ("1h30m", 5400), ("250ms", 0.25), ("2d", 172800), ("PT1H30M", 5400), ("P1DT1S", 86401)],
)
def test_durations(text: str, seconds: float) -> None:
    duration = parse_duration(text)
    assert duration is not None and duration.total_seconds() == seconds


@pytest.mark.parametrize("text", ["soon", "P", "PT", "1x", ""])
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_paths(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    assert convert(Path, str(tmp_path / "f.txt")) == tmp_path / "f.txt"
    with pytest.raises(click.BadParameter, match="does not exist"):
        convert(Path, str(tmp_path / "missing"))


def test_docstring_args() -> None:
    doc = """Summary.

    Args:
        x (int): the first
            input, continued.
        y: the second.

    Returns:
        nothing.
    """
    assert parse_docstring_args(doc) == {"x": "the first input, continued.", "y": "the second."}
    assert parse_docstring_args(None) == {}


def test_short_type_names_and_signature() -> None:
    assert short_type_name(Optional[list[Outer]]) == "list[Outer] | None"  # noqa: UP045
    assert short_type_name(list[Outer] | None) == "list[Outer] | None"
    assert short_type_name(dict[str, Mode]) == "dict[str, Mode]"
    sig = short_signature({"x": (int, EMPTY), "mode": (Mode, Mode.FAST), "name": (str, "a")}, {"o0": int, "o1": str})
    assert sig == "(x: int, mode: Mode = FAST, name: str = 'a') -> (int, str)"
    assert short_signature({}, {}) == "() -> None"


def test_options_required_and_flags() -> None:
    options = input_options({"x": (int, EMPTY), "dry_run": (bool, False), "n": (int | None, None)}, {"x": "X."})
    by_name = {option.name: option for option in options}
    assert by_name["x"].required and not by_name["n"].required
    assert "--dry_run" in by_name["dry_run"].opts and "--dry-run" in by_name["dry_run"].opts
    assert "--no-dry_run" in by_name["dry_run"].secondary_opts
