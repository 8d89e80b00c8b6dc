"""``flyte.run(trigger, **inputs)``: fire a deployed trigger now, as its schedule would.

The run is created *as* the trigger (``CreateRun.trigger_name``), so the control plane records it
as trigger-fired and runs the trigger's task version. The trigger's inputs and run spec are the
floor: keyword inputs replace single inputs (converted with the deployed task's interface) and
the ``with_runcontext`` options go on top of the trigger's run spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte.errors import RunAlreadyExistsError
from flyte.remote._common import control_plane_error, get_clients, org, scope

if TYPE_CHECKING:
    from flyteidl2.task import common_pb2

    from flyte._run import RunConfig
    from flyte.remote._run import Run
    from flyte.remote._trigger import Trigger

__all__ = ["submit_trigger_run"]


async def submit_trigger_run(trigger: Trigger, args: tuple[Any, ...], kwargs: dict[str, Any], config: RunConfig) -> Run:
    """Fire ``trigger`` now with ``kwargs`` replacing some of its inputs; returns the new run.

    Raises:
        ValueError: positional inputs, unknown input names, or ``dry_run``.
        flyte.errors.NotFoundError: the trigger does not exist (any more).
    """
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.trigger import trigger_service_pb2
    from flyteidl2.workflow import run_service_pb2

    from flyte._internal.serde import run_spec_to_proto
    from flyte.remote._action import run_id
    from flyte.remote._run import Run
    from flyte.remote._task import Task

    if args:
        raise ValueError(
            "A trigger's inputs can only be changed by name (flyte.run(trigger, x=1)): the others keep "
            "the values the trigger was deployed with"
        )
    if config.dry_run:
        raise ValueError("dry_run cannot be combined with running a trigger")
    project, domain = scope(config.project or trigger.project, config.domain or trigger.domain)
    name = identifier_pb2.TriggerName(
        org=org(), project=project, domain=domain, name=trigger.name, task_name=trigger.task_name
    )
    what = f"trigger {trigger.name!r} of task {trigger.task_name!r} in {project}/{domain}"
    clients = get_clients()
    try:
        response = await clients.trigger_service.get_trigger_details(
            trigger_service_pb2.GetTriggerDetailsRequest(name=name)
        )
    except ConnectError as error:
        raise control_plane_error(error, what) from error
    spec = response.trigger.spec

    create = run_service_pb2.CreateRunRequest(trigger_name=name)
    create.run_spec.CopyFrom(run_spec_to_proto(config, base=spec.run_spec if spec.HasField("run_spec") else None))
    if config.name:
        create.run_id.CopyFrom(run_id(project, domain, config.name))
    else:
        create.project_id.CopyFrom(identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()))
    version = spec.task_version or None
    task = Task.get(
        trigger.task_name, project=project, domain=domain, version=version, auto_version=None if version else "latest"
    )
    details = await task.fetch.aio()
    if kwargs or config.custom_context:
        create.inputs.CopyFrom(await _merged_inputs(spec, details, kwargs, config, what))
    try:
        created = await clients.run_service.create_run(create)
    except ConnectError as error:
        if error.code == Code.ALREADY_EXISTS:
            raise RunAlreadyExistsError(
                f"A run named {config.name!r} already exists in {project}/{domain}; choose another name"
            ) from error
        raise control_plane_error(error, f"running {what}", explain=True) from error
    run = Run._from_proto(created.run, interface=details.interface)
    run._preserve_original_types = config.preserve_original_types
    return run


async def _merged_inputs(
    spec: Any, details: Any, changes: dict[str, Any], config: RunConfig, what: str
) -> common_pb2.Inputs:
    from flyteidl2.core import literals_pb2
    from flyteidl2.task import common_pb2

    from flyte.types._interface import NativeInterface, convert_inputs_to_literals

    interface = details.interface
    unknown = sorted(set(changes) - set(interface.inputs))
    if unknown:
        known = ", ".join(interface.inputs) or "<none>"
        raise ValueError(f"Unknown input(s) {', '.join(unknown)} for {what}; its inputs are: {known}")
    if spec.HasField("inputs"):
        base = spec.inputs
    elif spec.HasField("offloaded_input_data") and set(changes) != set(interface.inputs):
        stored = await _read_offloaded(spec.offloaded_input_data.uri)
        if stored is None:
            raise ValueError(
                f"The inputs of {what} are stored apart from it, where this process cannot read them; give "
                f"every input ({', '.join(interface.inputs)}) to run it with changed inputs"
            )
        base = stored
    else:
        base = common_pb2.Inputs()
    reduced = NativeInterface.from_types({key: interface.inputs[key] for key in changes}, {})
    converted = await convert_inputs_to_literals(reduced, dict(changes), task_name=details.name)
    literals = [
        common_pb2.NamedLiteral(name=named.name, value=converted.pop(named.name, named.value))
        for named in base.literals
    ]
    literals += [common_pb2.NamedLiteral(name=key, value=value) for key, value in converted.items()]
    context = {pair.key: pair.value for pair in base.context} | dict(config.custom_context)
    return common_pb2.Inputs(
        literals=literals, context=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in context.items()]
    )


async def _read_offloaded(uri: str) -> common_pb2.Inputs | None:
    """The trigger's offloaded ``inputs.pb``, read straight from the store (``None`` if unreachable)."""
    from flyteidl2.task import common_pb2

    from flyte.storage import get_underlying_filesystem

    path = uri.rstrip("/") + "/inputs.pb"
    try:
        if path.startswith("file://"):
            path = path.removeprefix("file://")
        filesystem = get_underlying_filesystem(path=path)
        with filesystem.open(path, "rb") as stream:
            data = stream.read()
    except (OSError, ValueError, ImportError):
        return None
    return common_pb2.Inputs.FromString(bytes(data))
