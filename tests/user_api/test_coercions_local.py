"""Black-box tests of local mode with programs that rely on Flyte 2's type coercions and on
functions without annotations (``flyte.run`` and the ``flyte run --local`` command)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import flyte
import flyte.errors
from flyte.io import DataFrame

from . import coercion_programs as p
from .test_cli_run_local import env, run_flyte  # noqa: F401 - env is a fixture

PROGRAMS = Path(p.__file__)


# --- no annotations -------------------------------------------------------------------------


def test_a_task_without_return_annotation_runs_and_has_no_outputs(tmp_path: Path) -> None:
    target = tmp_path / "line.txt"
    run = flyte.run(p.log_line, path=str(target), text="hello")
    assert target.read_text() == "hello"
    assert run.phase == "SUCCEEDED"
    assert run.outputs()[0] is None
    flyte.run(p.sync_log_line, path=str(target))
    assert target.read_text() == "sync"


def test_a_parent_gets_none_from_an_unannotated_child_and_no_input_tasks_run(tmp_path: Path) -> None:
    target = tmp_path / "line.txt"
    assert flyte.run(p.calls_unannotated, path=str(target)).outputs()[0] == "None|ran"
    assert target.read_text() == "from parent"
    assert flyte.run(p.no_inputs).outputs()[0] == "ran"


def test_a_value_returned_without_return_annotation_fails_the_run_and_says_why() -> None:
    with pytest.raises(flyte.errors.RuntimeDataValidationError, match="did you miss a return type annotation"):
        flyte.run(p.returns_anyway, x=2)


def test_an_unannotated_input_takes_any_picklable_value() -> None:
    assert flyte.run(p.untyped_input, x={"a": 1}).outputs()[0] == "dict:{'a': 1}"
    assert flyte.run(p.untyped_input, x=2.5).outputs()[0] == "float:2.5"


# --- int for float --------------------------------------------------------------------------


def test_an_int_default_and_int_arguments_for_float_inputs_arrive_as_floats() -> None:
    assert flyte.run(p.scale).outputs()[0] == 6.0
    assert flyte.run(p.kind_of, x=2).outputs()[0] == "float"
    assert flyte.run(p.sums_via_child).outputs()[0] == 10.0
    result = flyte.run(p.int_returned_for_float).outputs()[0]
    assert result == 5.0 and type(result) is float


def test_the_cli_takes_an_int_default_for_a_float_input(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    result = run_flyte(env, tmp_path, "run", "--local", str(PROGRAMS), "scale")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "o0: 6.0\n"
    result = run_flyte(env, tmp_path, "run", "--local", str(PROGRAMS), "log_line", "--path", "x.txt", "--text", "t")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.txt").read_text() == "t"


# --- dicts for dataclasses, models and TypedDicts -------------------------------------------


def test_dicts_are_accepted_for_dataclass_and_model_inputs_and_arrive_as_instances() -> None:
    segment = {"start": {"x": 0, "y": 0}, "end": {"x": 3, "y": 4.5}}
    assert flyte.run(p.length, s=segment).outputs()[0] == "float:7.5"
    assert flyte.run(p.describe, settings={"name": "n", "origin": {"x": 1, "y": 2}}).outputs()[0] == "n/1/Point"
    assert flyte.run(p.passes_dicts).outputs()[0] == "float:7.0"


def test_a_dict_that_does_not_fit_the_dataclass_fails_naming_the_input() -> None:
    with pytest.raises(flyte.errors.RuntimeDataValidationError, match=r"Input 's'.*\['z'\] are not fields"):
        flyte.run(p.length, s={"start": {"x": 0, "y": 0}, "end": {"x": 1, "y": 1}, "z": 1})


def test_nested_typeddicts_from_typing_and_typing_extensions_work() -> None:
    shelf = {"best": {"title": "Up", "year": 2009}, "others": [{"title": "Heat", "year": 1995}]}
    assert flyte.run(p.count_titles, shelf=shelf).outputs()[0] == 2
    assert flyte.run(p.shelf_of, title="T").outputs()[0] == {"best": {"title": "T", "year": 2000}, "others": []}
    assert flyte.run(p.sequel_title, movie={"title": "A", "sequel": {"title": "B", "year": 1}}).outputs()[0] == "B"
    assert flyte.run(p.sequel_title, movie={"title": "A"}).outputs()[0] == "none"


# --- data frames ----------------------------------------------------------------------------


def test_a_dataframe_handle_for_a_pandas_input_and_back() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    assert flyte.run(p.frame_kind, df=DataFrame.from_df(frame)).outputs()[0] == "pandas:3"
    assert flyte.run(p.handle_kind, df=frame).outputs()[0] == "DataFrame:3"
    assert flyte.run(p.pipeline, n=4).outputs()[0] == "DataFrame|DataFrame|pandas:4|DataFrame:4"


@pytest.mark.parametrize("preserve", [False, True])
def test_a_local_run_returns_the_declared_frame_class_whatever_preserve_original_types_says(preserve: bool) -> None:
    # Locally the task's own annotations decode the outputs, as in Flyte 2.
    run = flyte.with_runcontext(mode="local", preserve_original_types=preserve).run(p.make_frame_from_handle, n=2)
    frame = run.outputs()[0]
    assert isinstance(frame, pd.DataFrame)
    assert frame["a"].tolist() == [0, 1]
