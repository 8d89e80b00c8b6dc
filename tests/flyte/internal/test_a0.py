"""``a0`` as a real worker process: bundles, nested actions, traces, errors, retries, reports.

Each test serialises a task of ``runtime_tasks`` with our serde, and the fake control plane runs
it (and every child it enqueues) as ``python -m flyte._internal.runtime.entrypoint`` processes
with the templated args substituted, exactly as a backend would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import runtime_tasks as rt
from fake_plane import FakePlane
from flyteidl2.core import execution_pb2
from flyteidl2.task import common_pb2
from runtime_helpers import error_of, outputs_of, run, serialization

from flyte._internal.serde import CodeBundle, inputs_to_proto, task_to_spec
from flyte.types._interface import convert_inputs_to_literals

SUCCEEDED, FAILED = 5, 6


async def test_nested_calls_traces_groups_map_and_sync_children(plane: FakePlane, bundle: str, side_effects: Path):
    root = await run(plane, rt.fan_out, {"n": 3}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert await outputs_of(root, rt.fan_out) == [0, 1, 4, 4, 8, 25, 36]
    children = plane.children("r1", "a0")
    groups = sorted(child.group for child in children)
    assert groups.count("squares") == 3  # flyte.group
    assert groups.count("square") == 2  # flyte.map's default group is the task's short name
    traces = [child for child in children if child.trace is not None]
    assert [trace.trace.name for trace in traces] == ["add_one"]
    assert traces[0].output_uri.endswith(f"/{traces[0].name}/outputs.pb")
    assert side_effects.read_text().splitlines() == ["add_one(3)"]
    enqueued = plane.requests("EnqueueAction")
    assert len(enqueued) == len(children) == 8
    assert {request.run_output_base for request in enqueued} == {plane.run_base("r1")}
    for request in enqueued:
        assert request.input_uri == f"{plane.run_base('r1')}/{request.action_id.name}/inputs.pb"
    assert len(plane.requests("Watch")) == 1  # one stream per (run, parent)


async def test_a_child_failure_propagates_with_its_code(plane: FakePlane, bundle: str):
    root = await run(plane, rt.calls_boom, {"x": 3}, bundle=bundle)
    assert root.phase == FAILED
    error = error_of(root)
    assert (error.code, error.message) == ("ValueError", "bad 3")
    assert error.kind == execution_pb2.ContainerError.RECOVERABLE
    assert error.origin == execution_pb2.ExecutionError.USER
    (child,) = plane.children("r1", "a0")
    assert (child.error.code, child.error.message) == ("ValueError", "bad 3")


async def test_a_caught_child_failure_is_a_runtime_user_error(plane: FakePlane, bundle: str):
    root = await run(plane, rt.catches_boom, {"x": 4}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert await outputs_of(root, rt.catches_boom) == "RuntimeUserError:ValueError:bad 4"


async def test_recoverable_errors_are_retried_and_non_recoverable_ones_are_not(plane: FakePlane, bundle: str):
    flaky = await run(plane, rt.flaky, {"x": 1}, bundle=bundle, run="flaky")
    assert flaky.phase == SUCCEEDED, plane.dump()
    assert flaky.attempt == 2
    assert await outputs_of(flaky, rt.flaky) == 101
    assert Path(plane.run_base("flaky"), "a0", "1", "error.pb").exists()

    refused = await run(plane, rt.refuses_once, {"x": 1}, bundle=bundle, run="refused")
    assert refused.phase == FAILED
    assert refused.attempt == 1
    error = error_of(refused)
    assert (error.code, error.kind) == ("NonRecoverableError", execution_pb2.ContainerError.NON_RECOVERABLE)


async def test_a_retried_parent_reuses_finished_children_and_replays_traces(
    plane: FakePlane, bundle: str, side_effects: Path
):
    root = await run(plane, rt.recovers, {"x": 5}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert root.attempt == 2
    assert await outputs_of(root, rt.recovers) == 25 + 6
    names = [request.action_id.name for request in plane.requests("EnqueueAction")]
    assert len(names) == len(set(names)) == 2  # the child and the trace, each enqueued once
    assert side_effects.read_text().splitlines() == ["add_one(5)"]  # replayed, not called again


async def test_context_report_env_and_named_outputs(plane: FakePlane, bundle: str):
    root = await run(plane, rt.reports, {"name": "ada"}, bundle=bundle, context={"team": "ml"})
    assert root.phase == SUCCEEDED, plane.dump()
    stats = await outputs_of(root, rt.reports)
    assert stats.total == 3
    assert stats.label == "remote,a0,r1,p,0,ml,from-env,out-ok"
    report = Path(root.output_uri, "report.html").read_text()
    assert "<p>hello ada</p>" in report


async def test_a_sync_task_calls_a_task_through_the_loop(plane: FakePlane, bundle: str):
    root = await run(plane, rt.sync_outer, {"x": 2}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert await outputs_of(root, rt.sync_outer) == 7


async def test_actions_service_path(tmp_path: Path, bundle: str):
    async with FakePlane(tmp_path / "plane", use_actions=True) as plane:
        root = await run(plane, rt.calls_boom, {"x": 1}, bundle=bundle)
        assert root.phase == FAILED
        assert error_of(root).code == "ValueError"
        assert len(plane.requests("Enqueue")) == 1
        assert plane.requests("EnqueueAction") == []
        assert len(plane.requests("WatchForUpdates")) == 1


async def test_a0_falls_back_to_the_environment_and_needs_no_endpoint_for_leaf_tasks(tmp_path: Path, bundle: str):
    literals = await convert_inputs_to_literals(rt.square.interface, {"x": 7})
    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(inputs_to_proto(literals).SerializeToString())
    out = tmp_path / "out"
    work = tmp_path / "work"
    work.mkdir()
    args = [
        sys.executable,
        "-m",
        "flyte._internal.runtime.entrypoint",
        "--inputs",
        str(inputs),
        "--outputs-path",
        str(out),
        "--version",
        "v1",
        "--run-name",
        "{{.runName}}",
        "--name",
        "{{.actionName}}",
        "--prev-checkpoint",
        '""',
        "--run-start-time",
        "{{.runStartTime}}",
        "--tgz",
        bundle,
        "--dest",
        ".",
        "--resolver",
        "flyte._internal.resolvers.default.DefaultTaskResolver",
        "mod",
        "runtime_tasks",
        "instance",
        "square",
    ]
    env = {"PATH": "/usr/bin:/bin", "RUN_NAME": "r9", "ACTION_NAME": "a0", "HOME": str(tmp_path)}
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outputs = common_pb2.Outputs.FromString((out / "outputs.pb").read_bytes())
    assert outputs.literals[0].name == "o0"
    assert outputs.literals[0].value.scalar.primitive.integer == 49
    assert (work / "runtime_tasks.py").exists()  # extracted into --dest


async def test_a0_reports_unusable_arguments_and_unloadable_tasks(tmp_path: Path, bundle: str):
    base = [sys.executable, "-m", "flyte._internal.runtime.entrypoint"]
    missing = subprocess.run([*base, "--inputs", "x"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "--outputs-path" in missing.stderr

    out = tmp_path / "out"
    args = [
        *base,
        *("--inputs", str(tmp_path / "none.pb"), "--outputs-path", str(out), "--version", "v1"),
        *("--run-name", "r", "--name", "a0", "--tgz", bundle, "--dest", str(tmp_path / "code")),
        *("--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver", "mod", "runtime_tasks"),
        *("instance", "no_such_task"),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    document = execution_pb2.ErrorDocument.FromString((out / "error.pb").read_bytes())
    assert document.error.code == "ModuleLoadError"
    assert "no task named 'no_such_task'" in document.error.message


async def test_pickled_tasks_run_without_a_bundle_and_pickle_their_children(plane: FakePlane, tmp_path: Path):
    import gzip

    import cloudpickle

    cloudpickle.register_pickle_by_value(rt)
    try:
        data = gzip.compress(cloudpickle.dumps(rt.calls_boom))
    finally:
        cloudpickle.unregister_pickle_by_value(rt)
    pickled = tmp_path / "task.pkl.gz"
    pickled.write_bytes(data)
    spec = await task_to_spec(rt.calls_boom, serialization("", code_bundle=CodeBundle(pkl=str(pickled))))
    assert "--resolver" not in spec.task_template.container.args
    literals = await convert_inputs_to_literals(rt.calls_boom.interface, {"x": 8})
    plane.start_root("pk", spec, inputs_to_proto(literals))
    root = await plane.wait("pk", timeout=90)
    assert root.phase == FAILED
    assert (error_of(root).code, error_of(root).message) == ("ValueError", "bad 8")  # the child ran too
    (request,) = plane.requests("EnqueueAction")
    args = list(request.task.spec.task_template.container.args)
    child_pickle = args[args.index("--pkl") + 1]
    assert child_pickle.startswith(plane.run_base("pk")) and child_pickle.endswith(".pkl.gz")


async def test_values_above_max_inline_io_bytes_are_offloaded(plane: FakePlane, bundle: str):
    root = await run(plane, rt.pass_big_values, {"n": 5000}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert await outputs_of(root, rt.pass_big_values) == 5000
    by_task = {child.spec.task_template.id.name: child for child in plane.children("r1", "a0") if child.spec}
    producer, consumer = by_task["rt.big_text"], by_task["rt.text_length"]
    written = common_pb2.Outputs.FromString(Path(producer.output_uri, "outputs.pb").read_bytes())
    assert written.literals[0].value.WhichOneof("value") == "offloaded_metadata"
    sent = common_pb2.Inputs.FromString(Path(consumer.input_uri).read_bytes())
    assert sent.literals[0].value.WhichOneof("value") == "offloaded_metadata"


async def test_small_inputs_travel_inline_when_the_backend_takes_them(plane: FakePlane, bundle: str):
    # A backend that sets _F_INLINE_INPUTS_MAX gets small child inputs as data: URIs (no file per
    # child); larger ones are still written under the run base.
    plane.worker_env["_F_INLINE_INPUTS_MAX"] = "4096"
    root = await run(plane, rt.fan_out, {"n": 3}, bundle=bundle)
    assert root.phase == SUCCEEDED, plane.dump()
    assert await outputs_of(root, rt.fan_out) == [0, 1, 4, 4, 8, 25, 36]
    tasks = [request for request in plane.requests("EnqueueAction") if request.HasField("task")]
    assert tasks and all(request.input_uri.startswith("data:application/x-protobuf;base64,") for request in tasks)
    children = {child.name for child in plane.children("r1", "a0") if child.trace is None}
    assert not any((Path(plane.run_base("r1")) / name / "inputs.pb").exists() for name in children)

    plane.worker_env["_F_INLINE_INPUTS_MAX"] = "0"
    again = await run(plane, rt.fan_out, {"n": 1}, bundle=bundle, run="r2")
    assert again.phase == SUCCEEDED, plane.dump()
    for request in plane.requests("EnqueueAction"):
        if request.HasField("task") and request.action_id.run.name == "r2":
            assert request.input_uri == f"{plane.run_base('r2')}/{request.action_id.name}/inputs.pb"
