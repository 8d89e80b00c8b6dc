"""``flyte.rerun``: start a stored run (or one of its actions) again as a new run.

The new run is built from what the control plane kept, never from local code: the task spec of
the source action (``GetActionDetails``), its inputs (``DataProxy.GetActionData``) with any
changed inputs merged in, and the source run's ``RunSpec`` (``GetRunDetails``) with the
``with_runcontext`` options on top and ``relation`` = RERUN (RECOVER with ``recover=True``: the
server then reuses every action that succeeded in the source run) pointing at it. Then
``UploadInputs`` and ``CreateRun`` with the spec, as :func:`flyte.run` does for a local task.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from flyte.errors import ActionNotFoundError, RunAlreadyExistsError
from flyte.remote._common import control_plane_error, dataproxy_for, get_clients, org, scope

if TYPE_CHECKING:
    from flyteidl2.task import common_pb2

    from flyte._run import RunConfig
    from flyte.remote._run import Run

__all__ = ["rerun_remote"]


async def rerun_remote(
    config: RunConfig,
    run_name: str,
    *,
    action_name: str = "a0",
    recover: bool = False,
    force_rerun_actions: tuple[str, ...] = (),
    allow_missing_source_outputs: bool = False,
    inputs: dict[str, Any],
) -> Run:
    """Start ``run_name`` (its action ``action_name``) again; see :func:`flyte.rerun`.

    Raises:
        flyte.errors.ActionNotFoundError: no such run or action.
        ValueError: unknown input names, or ``force_rerun_actions`` without ``recover``.
        ValueError: ``recover=True`` with an ``action_name`` other than ``a0``.
    """
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.common import run_pb2 as common_run_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2
    from flyteidl2.workflow import run_service_pb2

    from flyte._internal.serde import run_spec_to_proto
    from flyte.remote._action import fetch_details, run_id
    from flyte.remote._run import Run, _run_details

    if not isinstance(run_name, str) or not run_name.strip():
        raise ValueError("rerun needs the name of a run, e.g. flyte.rerun('r3x9...')")
    if force_rerun_actions and not recover:
        raise ValueError("force_rerun_actions requires recover=True")
    if recover and action_name != "a0":
        raise ValueError(
            f"recover=True cannot be combined with action_name={action_name!r}: recovery reuses the source "
            "run's actions by name, which only line up when the whole run starts again"
        )
    project, domain = scope(config.project, config.domain)
    source = await _run_details(project, domain, run_name)
    details = source.action if action_name == "a0" else await fetch_details(project, domain, run_name, action_name)
    if not details.HasField("task"):
        what = "run" if action_name == "a0" else f"action {action_name!r} of run"
        raise ActionNotFoundError(f"The {what} {run_name!r} in {project}/{domain} has no task spec to run again")
    spec = details.task

    stored_inputs = await _source_inputs(
        details.id, project, domain, run_name, action_name, allow_missing_source_outputs
    )
    merged = await _merge_inputs(
        spec.task_template.interface, stored_inputs, inputs, config, f"{run_name}/{action_name}"
    )

    project_id = identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org())
    upload = dataproxy_service_pb2.UploadInputsRequest(project_id=project_id, task_spec=spec, inputs=merged)
    try:
        dataproxy = await dataproxy_for("OPERATION_UPLOAD_INPUTS", project, domain)
        uploaded = await dataproxy.upload_inputs(upload)
    except ConnectError as error:
        raise control_plane_error(error, f"the inputs of a rerun of {run_name!r} in {project}/{domain}") from error

    run_spec = run_spec_to_proto(config, base=source.run_spec)
    run_spec.relation.CopyFrom(
        common_run_pb2.Relation(
            related_to=run_id(project, domain, run_name),
            relation_type=common_run_pb2.RELATION_TYPE_RECOVER if recover else common_run_pb2.RELATION_TYPE_RERUN,
        )
    )
    if recover and force_rerun_actions:
        run_spec.recover.force_rerun_actions.extend(force_rerun_actions)
    create = run_service_pb2.CreateRunRequest(task_spec=spec, run_spec=run_spec)
    if config.name:
        create.run_id.CopyFrom(run_id(project, domain, config.name))
    else:
        create.project_id.CopyFrom(project_id)
    create.offloaded_input_data.CopyFrom(uploaded.offloaded_input_data)
    try:
        response = await get_clients().run_service.create_run(create)
    except ConnectError as error:
        if error.code == Code.ALREADY_EXISTS:
            raise RunAlreadyExistsError(
                f"A run named {config.name!r} already exists in {project}/{domain}; choose another name"
            ) from error
        raise control_plane_error(error, f"rerunning {run_name!r} in {project}/{domain}", explain=True) from error
    run = Run._from_proto(response.run)
    run._preserve_original_types = config.preserve_original_types
    return run


async def _source_inputs(
    action: Any, project: str, domain: str, run_name: str, action_name: str, allow_missing: bool
) -> common_pb2.Inputs:
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy import dataproxy_service_pb2

    client = await dataproxy_for("OPERATION_GET_ACTION_DATA", project, domain)
    try:
        response = await client.get_action_data(dataproxy_service_pb2.GetActionDataRequest(action_id=action))
    except ConnectError as error:
        raise control_plane_error(
            error, f"the inputs of {run_name}/{action_name} in {project}/{domain}", not_found=ActionNotFoundError
        ) from error
    return response.inputs


async def _merge_inputs(
    typed: Any, stored: common_pb2.Inputs, changes: dict[str, Any], config: RunConfig, what: str
) -> common_pb2.Inputs:
    """The stored inputs with ``changes`` (Python values, converted with the stored interface) in place."""
    from flyteidl2.core import literals_pb2
    from flyteidl2.task import common_pb2

    from flyte.types import TypeEngine
    from flyte.types._interface import NativeInterface, convert_inputs_to_literals

    if not changes and not config.custom_context:
        return stored
    declared = {entry.key: entry.value.type for entry in typed.inputs.variables}
    unknown = sorted(set(changes) - set(declared))
    if unknown:
        known = ", ".join(declared) or "<none>"
        raise ValueError(f"Unknown input(s) {', '.join(unknown)} for {what}; its inputs are: {known}")
    converted: dict[str, literals_pb2.Literal] = {}
    if changes:
        interface = NativeInterface.from_types(
            {name: (TypeEngine.guess_python_type(declared[name]), inspect.Parameter.empty) for name in changes}, {}
        )
        converted = await convert_inputs_to_literals(interface, dict(changes), task_name=what)
    literals = [
        common_pb2.NamedLiteral(name=named.name, value=converted.pop(named.name, named.value))
        for named in stored.literals
    ]
    literals += [common_pb2.NamedLiteral(name=name, value=value) for name, value in converted.items()]
    context = {pair.key: pair.value for pair in stored.context} | dict(config.custom_context)
    return common_pb2.Inputs(
        literals=literals, context=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in context.items()]
    )
