"""flyte.models: the data types and helpers Flyte 2 programs import from it."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Literal, NamedTuple

import pytest

import flyte
import flyte.models as models
from flyte.models import CheckpointPaths, Docstring, PathRewrite, SerializationContext

env = flyte.TaskEnvironment(name="models-tests")


@env.task
async def report_context() -> list[str]:
    tctx = flyte.ctx()
    assert tctx is not None
    return [
        str(tctx.checkpoint_paths.checkpoint_path if tctx.checkpoint_paths else None),
        str(tctx.rank),
        str(tctx.world_size),
        tctx.master_addr or "",
        str(tctx.replace(task_name="renamed").task_name),
    ]


def test_task_context_reports_checkpoints_and_distributed_ranks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    flyte.init(local_cache_dir=tmp_path / "cache")
    checkpoint, rank, world, master, renamed = flyte.run(report_context).outputs().o0
    assert checkpoint.endswith("/1/_flytecheckpoints")
    assert (rank, world, master, renamed) == ("3", "8", "10.0.0.1", "renamed")


def test_the_null_context_is_falsy_and_reads_none_everywhere() -> None:
    null = models.NULL_TASK_CONTEXT
    assert not null and repr(null) == "NullTaskContext()"
    assert null.action is None and null.checkpoint is None and null.code_bundle is None


def test_serialization_context_knows_the_entrypoint_next_to_the_interpreter() -> None:
    context = SerializationContext(version="v1")
    assert context.interpreter_path == "/opt/venv/bin/python"
    assert context.get_entrypoint_path() == "/opt/venv/bin/runtime.py"
    assert context.get_entrypoint_path("/usr/local/bin/python3") == "/usr/local/bin/runtime.py"
    bundle = models.CodeBundle(tgz="s3://b/fast.tar.gz", computed_version="abc")
    assert bundle.with_downloaded_path(Path("/work")).downloaded_path == Path("/work")


def test_path_rewrite_parses_and_applies() -> None:
    rewrite = PathRewrite.from_str("s3://bucket/->/mnt/bucket/")
    assert rewrite.apply("s3://bucket/a/b.csv") == "/mnt/bucket/a/b.csv"
    assert rewrite.apply("gs://other/x") == "gs://other/x"
    assert repr(rewrite) == "s3://bucket/->/mnt/bucket/"
    for bad in ("no-arrow", "a->a", "->x"):
        with pytest.raises(ValueError):
            PathRewrite.from_str(bad)
    assert CheckpointPaths(None, "s3://b/cp").checkpoint_path == "s3://b/cp"


def test_docstring_sections() -> None:
    def train(epochs: int, lr: float) -> float:
        """Train the model.

        Uses plain SGD.

        Args:
            epochs: how many passes
                over the data.
            lr (float): the learning rate.

        Returns:
            the final loss.
        """
        return 0.0

    doc = Docstring(callable_=train)
    assert doc.short_description == "Train the model."
    assert doc.long_description == "Uses plain SGD."
    assert doc.input_descriptions == {"epochs": "how many passes over the data.", "lr": "the learning rate."}
    assert doc.output_descriptions == {"o0": "the final loss."}
    assert Docstring("One line.").input_descriptions == {}


def test_interface_helpers() -> None:
    class Pair(NamedTuple):
        left: int
        right: str

    assert models.extract_return_annotation(tuple[int, str]) == {"o0": int, "o1": str}
    assert models.extract_return_annotation(Pair) == {"left": int, "right": str}
    assert models.extract_return_annotation(None) == {}
    assert models.extract_return_annotation(inspect.Signature.empty) == {}
    color = models.literal_to_enum(Literal["red", "green"])
    assert [member.value for member in color] == ["red", "green"]
    with pytest.raises(TypeError):
        models.literal_to_enum(int)
    assert models.NativeInterface.from_callable(lambda x: x).inputs["x"][1] is inspect.Parameter.empty
    assert models.is_clustered_worker_env({"FLYTE_CLUSTERED_WORKER": "1"})
    assert not models.is_clustered_worker_env({})
    assert models.generate_random_name() != models.generate_random_name()
    assert models.MAX_INLINE_IO_BYTES == 10 * 1024 * 1024
    assert models.CallCounter().next("k") == 0


def test_docstrings_in_numpy_and_rest_styles_describe_inputs_and_outputs() -> None:
    from flyte.models import Docstring

    numpy_style = Docstring(
        """Scale a value.

        Parameters
        ----------
        x : int
            the value,
            any integer.

        Returns
        -------
        int
            the scaled value.
        """
    )
    assert numpy_style.short_description == "Scale a value."
    assert numpy_style.input_descriptions == {"x": "the value, any integer."}
    assert numpy_style.output_descriptions == {"o0": "the scaled value."}
    rest_style = Docstring("Scale a value.\n\n:param x: the value.\n:returns: the scaled value.\n")
    assert rest_style.input_descriptions == {"x": "the value."}
    assert rest_style.output_descriptions == {"o0": "the scaled value."}
