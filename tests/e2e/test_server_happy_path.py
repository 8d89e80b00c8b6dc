"""The PyPI SDK (``flyte==2.12.1``) deploys and runs workflows on our server, nested actions included."""

from __future__ import annotations

from flyteidl2.common import identifier_pb2, list_pb2, phase_pb2
from flyteidl2.task import task_service_pb2
from flyteidl2.workflow import run_service_pb2

from .helpers import DOMAIN, PROJECT, ReferenceClient, Rpc, ServerProcess, run_deployed_and_wait

SUCCEEDED = "ActionPhase.SUCCEEDED"


def run_id(name: str) -> identifier_pb2.RunIdentifier:
    return identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=name)


async def test_run_nested_fan_out_and_read_it_back(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    result = client(server, {"op": "run", "task": "fan_out", "inputs": {"n": 20}})
    assert result["phase"] == SUCCEEDED
    assert result["values"] == [[i * i for i in range(20)]]

    details = (
        await rpc.runs.get_run_details(run_service_pb2.GetRunDetailsRequest(run_id=run_id(result["run"])))
    ).details
    assert details.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert details.action.task.task_template.id.name == "e2e.fan_out"  # the TaskSpec the SDK decodes with
    assert details.run_spec.envs.values, "RunSpec.envs are kept"
    assert details.action.attempts[0].logs_available

    actions = await rpc.runs.list_actions(
        run_service_pb2.ListActionsRequest(run_id=run_id(result["run"]), request=list_pb2.ListRequest(limit=100))
    )
    children = [action for action in actions.actions if action.metadata.parent == "a0"]
    assert len(actions.actions) == 21 and len(children) == 20
    assert {action.status.phase for action in actions.actions} == {phase_pb2.ACTION_PHASE_SUCCEEDED}
    assert {action.metadata.task.id.name for action in children} == {"e2e.square"}


async def test_two_levels_of_nesting_and_traces(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    nested = client(server, {"op": "run", "task": "outer", "inputs": {"n": 4}})
    assert nested["phase"] == SUCCEEDED and nested["values"] == [0 + 1 + 4 + 9]
    traced = client(server, {"op": "run", "task": "with_trace", "inputs": {"x": 1}})
    assert traced["phase"] == SUCCEEDED and traced["values"] == [2 + 12]

    actions = await rpc.runs.list_actions(run_service_pb2.ListActionsRequest(run_id=run_id(traced["run"])))
    traces = [action for action in actions.actions if action.metadata.HasField("trace")]
    assert len(traces) == 2, "trace calls are recorded as actions"
    assert all(action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED for action in traces)


async def test_deploy_then_run_by_task_id(server: ServerProcess, client: ReferenceClient, rpc: Rpc) -> None:
    client(server, {"op": "deploy"})
    listed = await rpc.tasks.list_tasks(
        task_service_pb2.ListTasksRequest(
            project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN),
            request=list_pb2.ListRequest(
                limit=1,
                filters=[list_pb2.Filter(field="name", function=list_pb2.Filter.EQUAL, values=["e2e.square"])],
                sort_by=list_pb2.Sort(key="created_at", direction=list_pb2.Sort.DESCENDING),
            ),
        )
    )
    assert [task.task_id.name for task in listed.tasks] == ["e2e.square"]
    task_id = listed.tasks[0].task_id
    details = await rpc.tasks.get_task_details(task_service_pb2.GetTaskDetailsRequest(task_id=task_id))
    assert [entry.key for entry in details.details.spec.task_template.interface.inputs.variables] == ["x"]

    outputs = await run_deployed_and_wait(rpc, task_id, x=7)
    assert outputs.literals[0].value.scalar.primitive.integer == 49


async def test_environment_reaches_the_task(server: ServerProcess, client: ReferenceClient) -> None:
    result = client(
        server, {"op": "run", "task": "env_probe", "inputs": {"name": "E2E_MARK"}, "env_vars": {"E2E_MARK": "yes"}}
    )
    assert result["values"] == ["yes"]
    result = client(server, {"op": "run", "task": "env_probe", "inputs": {"name": "_U_ORG_NAME"}})
    assert result["values"] == ["local"]


async def test_actions_service_controller_path(server: ServerProcess, client: ReferenceClient) -> None:
    """``_U_USE_ACTIONS=1`` switches the in-task controller to ActionsService: same engine, same result."""
    result = client(server, {"op": "run", "task": "fan_out", "inputs": {"n": 5}, "env_vars": {"_U_USE_ACTIONS": "1"}})
    assert result["phase"] == SUCCEEDED and result["values"] == [[0, 1, 4, 9, 16]]
