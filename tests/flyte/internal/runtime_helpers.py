"""Helpers for the runtime tests: serialise a task, launch it on the fake plane, read its result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_plane import FakeAction, FakePlane
from flyteidl2.core import execution_pb2
from flyteidl2.task import common_pb2

from flyte._internal.serde import CodeBundle, SerializationContext, inputs_to_proto, outputs_from_proto, task_to_spec
from flyte.types._interface import convert_inputs_to_literals, convert_literals_to_outputs


def serialization(bundle: str, **overrides: Any) -> SerializationContext:
    values: dict[str, Any] = {
        "version": "v1",
        "project": "p",
        "domain": "d",
        "org": "local",
        "code_bundle": CodeBundle(tgz=bundle),
    }
    values.update(overrides)
    return SerializationContext(**values)


async def start(
    plane: FakePlane,
    task: Any,
    inputs: dict[str, Any],
    *,
    bundle: str,
    run: str = "r1",
    context: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> FakeAction:
    """Serialise ``task`` with our serde and launch it as the root of a new run."""
    spec = await task_to_spec(task, serialization(bundle))
    literals = await convert_inputs_to_literals(task.interface, inputs, task_name=task.name)
    return plane.start_root(run, spec, inputs_to_proto(literals, context), env)


async def run(plane: FakePlane, task: Any, inputs: dict[str, Any], **options: Any) -> FakeAction:
    action = await start(plane, task, inputs, **options)
    return await plane.wait(action.run, timeout=90)


async def outputs_of(action: FakeAction, task: Any) -> Any:
    data = Path(action.output_uri, "outputs.pb").read_bytes()
    literals = outputs_from_proto(common_pb2.Outputs.FromString(data))
    return await convert_literals_to_outputs(task.interface, literals)


def error_of(action: FakeAction) -> execution_pb2.ContainerError:
    data = Path(action.output_uri, "error.pb").read_bytes()
    return execution_pb2.ErrorDocument.FromString(data).error
