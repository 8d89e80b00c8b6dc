"""The remote path of ``flyte.run`` (PROTOCOL.md §3.b).

A local task: code bundle (built, uploaded unless already there), ``TaskSpec``, then
``UploadInputs`` and ``CreateRun`` with the spec. A deployed task (``flyte.remote.Task``):
``UploadInputs`` and ``CreateRun`` by task id. Either way a :class:`flyte.remote.Run` comes back,
whose outputs are decoded with the task's own interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte.errors import RunAlreadyExistsError
from flyte.remote._common import control_plane_error, dataproxy_for, get_clients, org, scope

if TYPE_CHECKING:
    from flyteidl2.task import common_pb2, task_definition_pb2

    from flyte._run import RunConfig
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.remote._run import Run
    from flyte.remote._task import TaskDetails
    from flyte.types._interface import NativeInterface

__all__ = ["submit_run"]


async def _inputs(
    interface: NativeInterface, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], context: dict[str, str]
) -> common_pb2.Inputs:
    from flyte._internal.serde import inputs_to_proto
    from flyte.types._interface import convert_inputs_to_literals

    bound = interface.convert_to_kwargs(*args, **kwargs)
    literals = await convert_inputs_to_literals(interface, bound, task_name=name)
    return inputs_to_proto(literals, context)


async def _local_spec(
    task: AsyncFunctionTaskTemplate[Any, Any], project: str, domain: str, config: RunConfig
) -> tuple[task_definition_pb2.TaskSpec, str | None]:
    """The run's ``TaskSpec`` (bundle uploaded) and its ``_F_SYS_PATH``."""
    from flyte._deploy import image_cache_for, prepare_code, task_environments
    from flyte._initialize import get_init_config
    from flyte._internal import bundle as bundles
    from flyte._internal.serde import SerializationContext, task_to_spec

    copy_style = str(config.extra.get("copy_style") or "loaded_modules")
    interactive = config.extra.get("interactive_mode")
    if interactive is None:
        interactive = bundles.is_interactive() or bundles.source_file(task) is None
    _, code = await prepare_code(
        [task], project=project, domain=domain, copy_style=copy_style, interactive=bool(interactive)
    )
    root = bundles.code_root(get_init_config().root_dir)
    version = config.version or (code.computed_version if code is not None else "none")
    sys_path = bundles.sys_path_entries(root) if code is not None and code.tgz is not None else None
    context = SerializationContext(
        version=version,
        project=project,
        domain=domain,
        org=org(),
        code_bundle=code,
        image_cache=image_cache_for(task_environments(task)),
        root_dir=root,
    )
    return await task_to_spec(task, context), sys_path


async def submit_run(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: RunConfig) -> Run:
    """Start ``task`` on the control plane and return the run's handle (it does not wait).

    Raises:
        flyte.errors.RuntimeDataValidationError: an input does not match the task's interface.
        flyte.errors.RunAlreadyExistsError: ``name`` is taken.
        flyte.errors.CodeBundleError: the code could not be bundled or uploaded.
        flyte.errors.ControlPlaneError: the control plane could not be reached or refused the run.
    """
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2
    from flyteidl2.workflow import run_service_pb2

    from flyte._internal.serde import run_spec_to_proto
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.remote._action import run_id
    from flyte.remote._run import Run
    from flyte.remote._task import Task, TaskDetails

    clients = get_clients()
    project, domain = scope(config.project, config.domain)
    deployed: TaskDetails | None = None
    if isinstance(task, Task):
        deployed = await task.fetch.aio()
    elif isinstance(task, TaskDetails):
        deployed = task
    elif not isinstance(task, AsyncFunctionTaskTemplate):
        raise TypeError(f"flyte.run() needs a task made with @env.task or a flyte.remote.Task, got {task!r}")

    project_id = identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org())
    upload = dataproxy_service_pb2.UploadInputsRequest(project_id=project_id)
    create = run_service_pb2.CreateRunRequest()
    sys_path: str | None = None
    if deployed is not None:
        interface = deployed.interface
        inputs = await _inputs(interface, deployed.name, args, kwargs, config.custom_context)
        upload.task_id.CopyFrom(deployed._task_id())
        create.task_id.CopyFrom(deployed._task_id())
        what = f"deployed task {deployed.name} ({deployed.version})"
    else:
        interface = task.interface
        inputs = await _inputs(interface, task.name, args, kwargs, config.custom_context)
        spec, sys_path = await _local_spec(task, project, domain, config)
        upload.task_spec.CopyFrom(spec)
        create.task_spec.CopyFrom(spec)
        what = f"task {task.name}"
    upload.inputs.CopyFrom(inputs)

    try:
        dataproxy = await dataproxy_for("OPERATION_UPLOAD_INPUTS", project, domain)
        uploaded = await dataproxy.upload_inputs(upload)
    except ConnectError as error:
        raise control_plane_error(error, f"the inputs of {what} in {project}/{domain}", explain=True) from error

    if config.name:
        create.run_id.CopyFrom(run_id(project, domain, config.name))
    else:
        create.project_id.CopyFrom(project_id)
    create.offloaded_input_data.CopyFrom(uploaded.offloaded_input_data)
    create.run_spec.CopyFrom(run_spec_to_proto(config, sys_path=sys_path))
    try:
        response = await clients.run_service.create_run(create)
    except ConnectError as error:
        if error.code == Code.ALREADY_EXISTS:
            raise RunAlreadyExistsError(
                f"A run named {config.name!r} already exists in {project}/{domain}; choose another name"
            ) from error
        raise control_plane_error(error, f"starting {what} in {project}/{domain}", explain=True) from error
    return Run._from_proto(response.run, interface=interface)
