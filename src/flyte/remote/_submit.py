"""The remote path of ``flyte.run`` (PROTOCOL.md §3.b).

A local task: code bundle (built, uploaded unless already there), ``TaskSpec``, then
``UploadInputs`` and ``CreateRun`` with the spec. A deployed task (``flyte.remote.Task``):
``UploadInputs`` and ``CreateRun`` by task id. Either way a :class:`flyte.remote.Run` comes back,
whose outputs are decoded with the task's own interface.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flyte.errors import RunAlreadyExistsError
from flyte.remote._common import control_plane_error, dataproxy_for, get_clients, org, scope

if TYPE_CHECKING:
    from pathlib import Path

    from flyteidl2.task import common_pb2, task_definition_pb2

    from flyte._internal.bundle import BuiltBundle
    from flyte._internal.serde import CodeBundle
    from flyte._run import DryRun, RunConfig
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.remote._run import Run
    from flyte.remote._task import TaskDetails
    from flyte.types._interface import NativeInterface

__all__ = ["dry_run_remote", "submit_run"]


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
) -> tuple[task_definition_pb2.TaskSpec, str | None, CodeBundle | None]:
    """The run's ``TaskSpec`` (bundle uploaded, unless a dry run), its ``_F_SYS_PATH`` and bundle."""
    from flyte._deploy import image_cache_for, prepare_code, task_environments
    from flyte._initialize import get_init_config
    from flyte._internal import bundle as bundles
    from flyte._internal.serde import SerializationContext, task_to_spec

    interactive = config.interactive_mode
    if interactive is None:
        interactive = bundles.is_interactive() or bundles.source_file(task) is None
    built, code = await prepare_code(
        [task],
        project=project,
        domain=domain,
        copy_style=config.copy_style,
        interactive=bool(interactive),
        upload=not config.dry_run,
    )
    if config.dry_run and built is not None and code is not None and config.copy_bundle_to is not None:
        code = _copy_bundle(built, code, config.copy_bundle_to)
    root = bundles.code_root(get_init_config().root_dir)
    version = config.version or (code.computed_version if code is not None else "none")
    sync = get_init_config().extra.get("sync_local_sys_paths", True)  # flyte.init(sync_local_sys_paths=False)
    sys_path = bundles.sys_path_entries(root) if sync and code is not None and code.tgz is not None else None
    context = SerializationContext(
        version=version,
        project=project,
        domain=domain,
        org=org(),
        code_bundle=code,
        image_cache=image_cache_for(task_environments(task)),
        root_dir=root,
    )
    return await task_to_spec(task, context), sys_path, code


def _copy_bundle(built: BuiltBundle, code: CodeBundle, directory: Path) -> CodeBundle:
    """Write a dry run's bundle into ``directory``; the bundle then names that file."""
    from flyte.errors import CodeBundleError

    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / built.filename
        target.write_bytes(built.data)
    except OSError as error:
        raise CodeBundleError(f"Cannot write the code bundle into {directory}: {error}") from error
    if code.pkl is not None:
        return dataclasses.replace(code, pkl=str(target))
    return dataclasses.replace(code, tgz=str(target))


async def dry_run_remote(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: RunConfig) -> DryRun:
    """What :func:`submit_run` would send, built but not sent: inputs, task spec and code bundle.

    Nothing is uploaded and no RPC is made (a deployed task is looked up, to know its interface).

    Raises:
        flyte.errors.RuntimeDataValidationError: an input does not match the task's interface.
        flyte.errors.CodeBundleError: the code could not be bundled (or written to ``copy_bundle_to``).
    """
    from flyte._run import DryRun
    from flyte._task import AsyncFunctionTaskTemplate
    from flyte.remote._task import Task, TaskDetails

    project, domain = scope(config.project, config.domain)
    if isinstance(task, (Task, TaskDetails)):
        deployed = await task.fetch.aio() if isinstance(task, Task) else task
        inputs = await _inputs(deployed.interface, deployed.name, args, kwargs, config.custom_context)
        return DryRun(name="dry-run", url="", inputs=inputs, task_spec=deployed._spec, code_bundle=None)
    if not isinstance(task, AsyncFunctionTaskTemplate):
        raise TypeError(f"flyte.run() needs a task made with @env.task or a flyte.remote.Task, got {task!r}")
    inputs = await _inputs(task.interface, task.name, args, kwargs, config.custom_context)
    spec, _, code = await _local_spec(task, project, domain, config)
    return DryRun(name="dry-run", url="", inputs=inputs, task_spec=spec, code_bundle=code)


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
        if deployed.overridden and deployed._spec is not None:
            # TaskDetails.override(...): the changed spec runs; the deployed task stays as it is.
            upload.task_spec.CopyFrom(deployed._spec)
            create.task_spec.CopyFrom(deployed._spec)
        else:
            upload.task_id.CopyFrom(deployed._task_id())
            create.task_id.CopyFrom(deployed._task_id())
        if deployed.overriden_queue and not config.queue:
            config = dataclasses.replace(config, queue=deployed.overriden_queue)
        what = f"deployed task {deployed.name} ({deployed.version})"
    else:
        interface = task.interface
        inputs = await _inputs(interface, task.name, args, kwargs, config.custom_context)
        spec, sys_path, _ = await _local_spec(task, project, domain, config)
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
    run = Run._from_proto(response.run, interface=interface)
    run._preserve_original_types = config.preserve_original_types
    return run
