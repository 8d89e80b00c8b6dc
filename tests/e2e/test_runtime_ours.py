"""Our ``a0`` as the server's worker runtime, on tasks deployed by the PyPI SDK and on raw TaskSpecs.

The server here runs every attempt with *this* environment's interpreter (``worker_python`` is
``sys.executable``, whose ``bin/a0`` is our runtime), while the PyPI SDK (``flyte==2.12.1``) is the
client that deploys and runs. So the PyPI client's specs, code bundles and inputs must work with
our runtime and controller, nested actions, traces, retries and both nested-action paths included.
"""

from __future__ import annotations

import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_service_pb2

from flyte._internal.serde import CodeBundle, SerializationContext, inputs_to_proto, task_to_spec
from flyte.types._interface import convert_inputs_to_literals

from .helpers import DOMAIN, PROJECT, WORKFLOWS, ReferenceClient, Rpc, ServerProcess, make_rpc, watch_until_done

SUCCEEDED = "ActionPhase.SUCCEEDED"
FAILED = "ActionPhase.FAILED"


@pytest.fixture(scope="module")
def ours(e2e_root: Path) -> Iterator[ServerProcess]:
    """A server whose workers run our ``a0``."""
    process = ServerProcess(data_dir=e2e_root / "ours", worker_python=sys.executable, workers=4)
    process.start()
    yield process
    process.stop()


def test_pypi_runs_nested_actions_and_traces_on_our_runtime(ours: ServerProcess, client: ReferenceClient) -> None:
    fan_out = client(ours, {"op": "run", "task": "fan_out", "inputs": {"n": 5}})
    assert fan_out["phase"] == SUCCEEDED, ours.log_tail()
    assert fan_out["values"] == [[i * i for i in range(5)]]
    nested = client(ours, {"op": "run", "task": "outer", "inputs": {"n": 3}})
    assert nested["phase"] == SUCCEEDED and nested["values"] == [0 + 1 + 4]
    traced = client(ours, {"op": "run", "task": "with_trace", "inputs": {"x": 1}})
    assert traced["phase"] == SUCCEEDED and traced["values"] == [2 + 12]


async def test_pypi_failures_and_retries_on_our_runtime(
    ours: ServerProcess, client: ReferenceClient, tmp_path: Path
) -> None:
    marker = tmp_path / "flaky.count"
    flaky = client(ours, {"op": "run", "task": "flaky", "inputs": {"marker": str(marker), "failures": 1}})
    assert flaky["phase"] == SUCCEEDED and flaky["values"] == [2]
    hopeless_marker = tmp_path / "hopeless.count"
    hopeless = client(ours, {"op": "run", "task": "hopeless", "inputs": {"marker": str(hopeless_marker)}})
    assert hopeless["phase"] == FAILED
    assert hopeless_marker.read_text() == "1", "a NonRecoverableError is not retried"
    rpc = make_rpc(ours.base_url)
    try:
        root = identifier_pb2.ActionIdentifier(
            run=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=hopeless["run"]), name="a0"
        )
        details = (await rpc.runs.get_action_details(run_service_pb2.GetActionDetailsRequest(action_id=root))).details
    finally:
        await rpc.close()
    assert details.error_info.code == "NonRecoverableError"
    assert "do not retry" in details.error_info.message


def test_the_actions_service_path(ours: ServerProcess, client: ReferenceClient) -> None:
    result = client(ours, {"op": "run", "task": "fan_out", "inputs": {"n": 3}, "env_vars": {"_U_USE_ACTIONS": "1"}})
    assert result["phase"] == SUCCEEDED, ours.log_tail()
    assert result["values"] == [[0, 1, 4]]


async def test_a_raw_task_spec_from_our_serde(ours: ServerProcess, tmp_path: Path) -> None:
    bundle = tmp_path / "fast-e2e.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        archive.add(WORKFLOWS / "e2e_wf.py", arcname="e2e_wf.py")
    sys.path.insert(0, str(WORKFLOWS))
    try:
        import e2e_wf

        task = e2e_wf.fan_out
        context = SerializationContext(
            version="raw-1", project=PROJECT, domain=DOMAIN, code_bundle=CodeBundle(tgz=str(bundle))
        )
        spec = await task_to_spec(task, context)
        literals = await convert_inputs_to_literals(task.interface, {"n": 4}, task_name=task.name)
    finally:
        sys.path.remove(str(WORKFLOWS))
        sys.modules.pop("e2e_wf", None)
    rpc: Rpc = make_rpc(ours.base_url)
    try:
        project = identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN)
        uploaded = await rpc.data.upload_inputs(
            dataproxy_service_pb2.UploadInputsRequest(
                project_id=project, task_spec=spec, inputs=inputs_to_proto(literals)
            )
        )
        created = await rpc.runs.create_run(
            run_service_pb2.CreateRunRequest(
                project_id=project, task_spec=spec, offloaded_input_data=uploaded.offloaded_input_data
            )
        )
        phases = await watch_until_done(rpc, created.run.action.id, timeout=90)
        assert phases[-1] == phase_pb2.ACTION_PHASE_SUCCEEDED, ours.log_tail()
        data = await rpc.data.get_action_data(
            dataproxy_service_pb2.GetActionDataRequest(action_id=created.run.action.id)
        )
        outputs: common_pb2.Outputs = data.outputs
        assert [item.scalar.primitive.integer for item in outputs.literals[0].value.collection.literals] == [0, 1, 4, 9]
    finally:
        await rpc.close()
