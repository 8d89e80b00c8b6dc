"""Coercions, missing annotations and reading structured inputs back, against the real server
(the session one: the PyPI runtime runs the tasks), with our SDK and ``flyte get io``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from click.testing import CliRunner

import flyte
import flyte.remote
from flyte.cli.main import flyte_group
from flyte.io import DataFrame

from .helpers import DOMAIN, PROJECT, ServerProcess, load_program_against


@pytest.fixture
def wf(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_program_against(server, project_dir, "coercion_wf.py", tmp_path / "home", monkeypatch)


def test_run_inputs_read_a_dataclass_input_back_with_and_without_its_class(
    wf: ModuleType, server: ServerProcess
) -> None:
    run = flyte.run(wf.norm, p=wf.Point(x=-1.5, y=2.0))
    run.wait()
    assert run.outputs()[0] == 3.5
    # The handle flyte.run returned knows the task, hence the class.
    assert run.inputs()["p"] == wf.Point(x=-1.5, y=2.0)
    # A handle fetched by name has only the wire interface: the value reads as a plain dict.
    assert flyte.remote.Run.get(run.name).inputs()["p"] == {"x": -1.5, "y": 2.0, "label": "p"}

    result = CliRunner().invoke(
        flyte_group,
        [
            "--endpoint",
            server.endpoint,
            "--insecure",
            "-of",
            "json",
            "get",
            "io",
            "-p",
            PROJECT,
            "-d",
            DOMAIN,
            run.name,
        ],
        prog_name="flyte",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"] == {"p": {"x": -1.5, "y": 2.0, "label": "p"}}


def test_dicts_for_dataclasses_and_ints_for_floats_reach_the_flyte2_runtime(wf: ModuleType) -> None:
    run = flyte.run(wf.norm, p={"x": 3, "y": -4})
    run.wait()
    assert run.phase == "SUCCEEDED"
    assert run.outputs()[0] == 7.0
    assert flyte.remote.Run.get(run.name).inputs()["p"] == {"x": 3.0, "y": -4.0, "label": "p"}

    defaulted = flyte.run(wf.scale)
    given = flyte.run(wf.scale, x=5)
    assert defaulted.outputs()[0] == 6.0
    assert given.outputs()[0] == 10.0
    assert given.inputs()["x"] == 5.0

    movies = flyte.run(wf.titles, movies=[{"title": "Up", "year": 2009}, {"title": "Heat", "year": 1995}])
    assert movies.outputs()[0] == "Up,Heat"
    assert flyte.remote.Run.get(movies.name).inputs()["movies"] == [
        {"title": "Up", "year": 2009},
        {"title": "Heat", "year": 1995},
    ]


def test_a_task_without_return_annotation_runs_remotely(wf: ModuleType) -> None:
    run = flyte.run(wf.no_annotation, text="hi")
    run.wait()
    assert run.phase == "SUCCEEDED"
    assert tuple(run.outputs()) in ((), (None,))
    assert any("NO-ANNOTATION hi" in line for line in run.get_logs())


def test_a_task_without_inputs_runs_remotely(wf: ModuleType) -> None:
    run = flyte.run(wf.no_inputs)
    run.wait()
    assert run.phase == "SUCCEEDED"
    assert run.outputs()[0] == "ran"
    assert run.inputs() == {}


def test_deployed_tasks_without_inputs_or_return_annotation_and_with_an_int_float_default(wf: ModuleType) -> None:
    [deployment] = flyte.deploy(wf.env)
    assert {"coercion_e2e.no_inputs", "coercion_e2e.no_annotation", "coercion_e2e.scale"} <= {
        task.name for task in deployment.tasks
    }
    scale = flyte.remote.Task.get("coercion_e2e.scale", auto_version="latest").fetch()
    assert scale.defaults == {"x": 3.0}
    assert flyte.run(flyte.remote.Task.get("coercion_e2e.scale", auto_version="latest")).outputs()[0] == 6.0
    no_inputs = flyte.remote.Task.get("coercion_e2e.no_inputs", auto_version="latest")
    assert no_inputs.fetch().inputs == {}
    assert flyte.run(no_inputs).outputs()[0] == "ran"
    bare = flyte.remote.Task.get("coercion_e2e.no_annotation", auto_version="latest")
    run = flyte.run(bare, text="deployed")
    run.wait()
    assert run.phase == "SUCCEEDED"


@pytest.fixture(scope="module")
def ours(e2e_root: Path) -> Iterator[ServerProcess]:
    """A server whose workers run our ``a0`` (the reference venv has no pyarrow for data frames)."""
    process = ServerProcess(data_dir=e2e_root / "coercions-ours", worker_python=sys.executable, workers=2)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def frames_wf(ours: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_program_against(ours, project_dir, "coercion_wf.py", tmp_path / "home", monkeypatch)


def test_frames_cross_between_handles_and_pandas_and_preserve_original_types_picks_the_reader_type(
    frames_wf: ModuleType, ours: ServerProcess
) -> None:
    plain = flyte.run(frames_wf.make_frame, n=3)
    plain.wait()
    assert plain.phase == "SUCCEEDED", ours.log_tail()
    # As in Flyte 2, a run handle reads a pd.DataFrame output as a flyte.io.DataFrame handle...
    handle = plain.outputs()[0]
    assert isinstance(handle, DataFrame)
    # The frame was written into the server's store (under the attempt), not the worker's scratch dir.
    assert handle.uri is not None and Path(handle.uri).is_relative_to(ours.data_dir / "blobs"), handle.uri
    assert handle.open(pd.DataFrame).all_sync()["a"].tolist() == [0, 1, 2]
    assert isinstance(flyte.remote.Run.get(plain.name).outputs()[0], DataFrame)
    # ... unless the run asked to preserve the original types.
    preserved = flyte.with_runcontext(preserve_original_types=True).run(frames_wf.make_frame, n=2)
    frame = preserved.outputs()[0]
    assert isinstance(frame, pd.DataFrame) and frame["a"].tolist() == [0, 1]

    given = flyte.run(frames_wf.count_rows, df=DataFrame.from_df(pd.DataFrame({"a": [1, 2]})))
    assert given.outputs()[0] == "pandas:2"
    nested = flyte.run(frames_wf.frames_pipeline, n=4)
    assert nested.outputs()[0] == "pandas|pandas:4|5.0", ours.log_tail()
