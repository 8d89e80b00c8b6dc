"""``flyte.deploy``: register environments' tasks (and their triggers) on the control plane.

The sequence (PROTOCOL.md §3.a): one code bundle for everything deployed (uploaded unless the
control plane already has it), then per trigger with inputs ``SelectCluster(UPLOAD_TRIGGER)`` +
``UploadInputs``, then one ``DeployTask`` per task, concurrently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flyte._internal.syncify import syncify

if TYPE_CHECKING:
    from flyteidl2.task import task_definition_pb2

    from flyte._internal.bundle import BuiltBundle
    from flyte._internal.serde import CodeBundle, ImageCache, SerializationContext
    from flyte._task import TaskTemplate
    from flyte._task_environment import Environment
    from flyte.app._app_environment import AppEnvironment, DeployedAppEnvironment

__all__ = ["DeployedEnvironment", "DeployedTask", "Deployment", "deploy"]

T = TypeVar("T")


@dataclass(frozen=True)
class DeployedTask:
    """A task registered by :func:`deploy`."""

    name: str
    """``env.function``."""
    version: str
    """The version it was registered under."""
    triggers: tuple[str, ...] = ()
    """The names of its triggers."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {"name": self.name, "version": self.version, "triggers": list(self.triggers)}


@dataclass(frozen=True)
class DeployedEnvironment:
    """An environment registered by :func:`deploy`, with its tasks."""

    name: str
    """The environment's name."""
    tasks: tuple[DeployedTask, ...]
    """Its tasks."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {"name": self.name, "tasks": [task.to_dict() for task in self.tasks]}


@dataclass(frozen=True)
class Deployment:
    """What one ``flyte.deploy`` argument registered: the environment and those it depends on.

    Example:
        >>> [deployment] = flyte.deploy(env)  # doctest: +SKIP
        >>> deployment.version, [t.name for t in deployment.tasks]  # doctest: +SKIP
        ('3f2a...', ['demo.main', 'demo.square'])
    """

    version: str
    """The version every task was registered under."""
    environments: tuple[DeployedEnvironment, ...]
    """The deployed environments (the requested one first)."""
    code_bundle: str | None = None
    """Where the tasks' code was uploaded (``None`` with ``copy_style="none"``)."""
    dry_run: bool = False
    """Nothing was sent: this is what would have been deployed."""
    apps: tuple[DeployedAppEnvironment, ...] = ()
    """The deployed apps (``AppEnvironment``s among the environments), with their control-plane handles."""

    @property
    def tasks(self) -> tuple[DeployedTask, ...]:
        """Every deployed task."""
        return tuple(task for env in self.environments for task in env.tasks)

    def summary(self) -> str:
        """One line: how many environments and tasks, at which version."""
        verb = "Would deploy" if self.dry_run else "Deployed"
        names = ", ".join(env.name for env in self.environments)
        apps = f" and {len(self.apps)} app(s)" if self.apps else ""
        return f"{verb} {len(self.tasks)} task(s){apps} of environment(s) {names} at version {self.version}"

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {
            "version": self.version,
            "code_bundle": self.code_bundle,
            "dry_run": self.dry_run,
            "environments": [env.to_dict() for env in self.environments],
            "apps": [{"name": app.env.name, "endpoint": app.deployed_app.endpoint} for app in self.apps],
        }


def environments_with_dependencies(*envs: Environment) -> list[Environment]:
    """``envs`` and, recursively, the environments they depend on (each once, in discovery order).

    Raises:
        flyte.errors.DeploymentError: two different environments share a name.
    """
    from flyte.errors import DeploymentError

    found: dict[str, Environment] = {}
    pending = list(envs)
    while pending:
        env = pending.pop(0)
        existing = found.get(env.name)
        if existing is not None:
            if existing is not env:
                raise DeploymentError(f"Two different environments are named {env.name!r}; rename one of them")
            continue
        found[env.name] = env
        pending.extend(env.depends_on)
    return list(found.values())


def task_environments(task: TaskTemplate[Any, Any]) -> list[Environment]:
    """The environment of ``task`` and those it depends on (empty for a task without one)."""
    env = task.parent_env() if task.parent_env is not None else None
    return environments_with_dependencies(env) if env is not None else []


def image_cache_for(envs: list[Environment]) -> ImageCache:
    """The image of each environment (the default Flyte image for ``"auto"``), as ``--image-cache``."""
    from flyte._image import Image
    from flyte._initialize import get_init_config
    from flyte._internal.serde import ImageCache

    named = get_init_config().images
    lookup: dict[str, str] = {}
    default: str | None = None
    for env in envs:
        image = env.image
        if isinstance(image, Image):
            lookup[env.name] = image.uri
        elif isinstance(image, str) and image != "auto":
            lookup[env.name] = named.get(image, image)
        else:
            if default is None:
                default = named.get("default") or Image.from_debian_base().uri
            lookup[env.name] = default
    return ImageCache(image_lookup=lookup)


def _tasks_of(envs: list[Environment]) -> list[TaskTemplate[Any, Any]]:
    from flyte._task_environment import TaskEnvironment

    tasks: list[TaskTemplate[Any, Any]] = []
    for env in envs:
        if isinstance(env, TaskEnvironment):
            tasks.extend(env.tasks.values())
    return tasks


def _apps_of(envs: list[Environment]) -> list[AppEnvironment]:
    from flyte.app._app_environment import AppEnvironment

    return [env for env in envs if isinstance(env, AppEnvironment)]


def _version(
    bundle: BuiltBundle | None, images: ImageCache, tasks: list[TaskTemplate[Any, Any]], apps: tuple[str, ...] = ()
) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    digest.update((bundle.digest if bundle is not None else "no-bundle").encode())
    digest.update(images.to_transport().encode())
    for name in sorted(task.name for task in tasks):
        digest.update(name.encode())
    for name in sorted(apps):
        digest.update(f"app:{name}".encode())
    return digest.hexdigest()


async def prepare_code(
    tasks: list[TaskTemplate[Any, Any]],
    *,
    project: str,
    domain: str,
    copy_style: str = "loaded_modules",
    interactive: bool = False,
    upload: bool = True,
    extra_files: tuple[Path, ...] = (),
) -> tuple[BuiltBundle | None, CodeBundle | None]:
    """Build (and upload) the code bundle of ``tasks``: a ``.tar.gz``, or with ``interactive`` a
    pickle of the single task. ``copy_style="none"`` builds nothing (the code is in the image)."""
    from flyte._initialize import get_init_config
    from flyte._internal import bundle as bundles
    from flyte._internal.serde import CodeBundle
    from flyte.errors import CodeBundleError

    if copy_style == "none":
        return None, None
    if interactive:
        if len(tasks) != 1:
            raise CodeBundleError("Interactive (pickled) code bundles hold exactly one task; run it with flyte.run")
        built = bundles.build_pkl(tasks[0])
    else:
        if copy_style not in ("loaded_modules", "all"):
            raise CodeBundleError(f"Unknown copy_style {copy_style!r}; use 'loaded_modules', 'all' or 'none'")
        root = bundles.code_root(get_init_config().root_dir)
        built = bundles.build_code_bundle(tasks, root, copy_style, extra_files)  # type: ignore[arg-type]  # checked above
    if not upload:
        uri = f"<not uploaded>/{built.filename}"
    else:
        uri = await upload_built(built, project, domain)
    if built.kind == "pkl":
        return built, CodeBundle(pkl=uri, computed_version=built.digest)
    return built, CodeBundle(tgz=uri, computed_version=built.digest)


async def upload_built(built: BuiltBundle, project: str, domain: str) -> str:
    """Upload a built bundle through the control plane's DataProxy (cached by digest)."""
    from connectrpc.errors import ConnectError

    from flyte._internal.bundle import default_bundle_cache, upload_bundle
    from flyte.remote._common import control_plane_error, dataproxy_for, get_clients, org

    clients = get_clients()
    try:
        dataproxy = await dataproxy_for("OPERATION_CREATE_UPLOAD_LOCATION", project, domain)
        return await upload_bundle(
            built,
            dataproxy=dataproxy,
            endpoint=clients.endpoint,
            project=project,
            domain=domain,
            org=org(),
            cache=default_bundle_cache(),
        )
    except ConnectError as error:
        raise control_plane_error(error, f"uploading the code bundle to {project}/{domain}", explain=True) from error


async def _triggers(
    task: TaskTemplate[Any, Any], spec: task_definition_pb2.TaskSpec, project: str, domain: str
) -> list[task_definition_pb2.TaskTrigger]:
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2

    from flyte._internal.serde import trigger_inputs, trigger_to_proto
    from flyte.remote._common import control_plane_error, dataproxy_for, org

    result = []
    for trigger in task.triggers:
        inputs = await trigger_inputs(trigger, task)
        if not inputs.literals:
            result.append(trigger_to_proto(trigger, inputs=inputs))
            continue
        client = await dataproxy_for("OPERATION_UPLOAD_TRIGGER", project, domain, optional=True)
        if client is None:
            result.append(trigger_to_proto(trigger, inputs=inputs))
            continue
        request = dataproxy_service_pb2.UploadInputsRequest(
            project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
            task_spec=spec,
            inputs=inputs,
        )
        try:
            response = await client.upload_inputs(request)
        except ConnectError as error:
            raise control_plane_error(error, f"the inputs of trigger {trigger.name!r}", explain=True) from error
        result.append(trigger_to_proto(trigger, offloaded_inputs=response.offloaded_input_data))
    return result


async def _deploy_task(task: TaskTemplate[Any, Any], context: SerializationContext, dry_run: bool) -> DeployedTask:
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from flyteidl2.task import task_service_pb2

    from flyte._internal.serde import task_identifier, task_to_spec
    from flyte.errors import DeploymentError
    from flyte.remote._common import control_plane_error, get_clients

    spec = await task_to_spec(task, context, deploy=True)
    names = tuple(trigger.name for trigger in task.triggers)
    if dry_run:
        return DeployedTask(name=task.name, version=context.version, triggers=names)
    triggers = await _triggers(task, spec, context.project, context.domain)
    request = task_service_pb2.DeployTaskRequest(task_id=task_identifier(task, context), spec=spec, triggers=triggers)
    try:
        await get_clients().task_service.deploy_task(request)
    except ConnectError as error:
        if error.code != Code.ALREADY_EXISTS:
            failure = control_plane_error(error, f"deploying task {task.name}", explain=True)
            raise DeploymentError(str(failure), code=error.code.name) from error
    return DeployedTask(name=task.name, version=context.version, triggers=names)


async def _all_or_cancel(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``calls`` at once; when one fails, cancel the others and wait for them before raising.

    A bare ``asyncio.gather`` leaves the rest running: ``asyncio.run`` then cancels them at exit,
    and each in-flight RPC reports its cancellation as an error with a traceback.
    """
    import asyncio

    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _deploy(
    *envs: Environment,
    dry_run: bool = False,
    version: str | None = None,
    interactive_mode: bool | None = None,
    copy_style: str = "loaded_modules",
    project: str | None = None,
    domain: str | None = None,
) -> list[Deployment]:
    return await _deploy_all(
        *envs,
        dry_run=dry_run,
        version=version,
        interactive_mode=interactive_mode,
        copy_style=copy_style,
        project=project,
        domain=domain,
    )


async def _deploy_all(
    *envs: Environment,
    dry_run: bool = False,
    version: str | None = None,
    interactive_mode: bool | None = None,
    copy_style: str = "loaded_modules",
    project: str | None = None,
    domain: str | None = None,
    parameter_values: dict[str, dict[str, Any]] | None = None,
) -> list[Deployment]:
    from flyte._initialize import get_init_config
    from flyte._internal import bundle as bundles
    from flyte._internal.serde import SerializationContext
    from flyte.app._deploy import bundle_files, deploy_app
    from flyte.errors import DeploymentError
    from flyte.remote._common import org, scope

    if not envs:
        raise DeploymentError("flyte.deploy needs at least one environment")
    if interactive_mode:
        raise DeploymentError("Deploying from an interactive session is not supported; deploy from a file")
    if not dry_run:
        from flyte.remote._common import get_clients

        get_clients()  # a clear error before any work when no endpoint is configured
    project, domain = scope(project, domain)
    plans = [environments_with_dependencies(env) for env in envs]
    everything = environments_with_dependencies(*envs)
    all_tasks = _tasks_of(everything)
    app_files = tuple(path for app in _apps_of(everything) for path in bundle_files(app))
    built, code = await prepare_code(
        all_tasks, project=project, domain=domain, copy_style=copy_style, upload=not dry_run, extra_files=app_files
    )
    init = get_init_config()
    root = bundles.code_root(init.root_dir)
    # flyte.init(sync_local_sys_paths=False): workers get no sys.path entries of the local session.
    sync = init.extra.get("sync_local_sys_paths", True)
    deployments = []
    for plan in plans:
        tasks = _tasks_of(plan)
        apps = _apps_of(plan)
        images = image_cache_for(plan)
        plan_version = version or _version(built, images, tasks, tuple(app.name for app in apps))
        context = SerializationContext(
            version=plan_version,
            project=project,
            domain=domain,
            org=org(),
            code_bundle=code,
            image_cache=images,
            root_dir=root,
            sys_path=bundles.sys_path_entries(root) if sync and code is not None and code.tgz is not None else None,
        )
        deployed = await _all_or_cancel([_deploy_task(task, context, dry_run) for task in tasks])
        deployed_apps = await _all_or_cancel(
            [deploy_app(app, context, (parameter_values or {}).get(app.name), dry_run) for app in apps]
        )
        by_name = {task.name: task for task in deployed}
        environments = tuple(
            DeployedEnvironment(
                name=env.name,
                tasks=tuple(by_name[task.name] for task in _tasks_of([env])),
            )
            for env in plan
        )
        deployments.append(
            Deployment(
                version=plan_version,
                environments=environments,
                code_bundle=code.uri if code is not None else None,
                dry_run=dry_run,
                apps=tuple(deployed_apps),
            )
        )
    return deployments


deploy = syncify(_deploy)


async def _deploy_apps(
    app_env: AppEnvironment,
    *,
    version: str | None = None,
    copy_style: str = "loaded_modules",
    dry_run: bool = False,
    project: str | None = None,
    domain: str | None = None,
    parameter_values: dict[str, Any] | None = None,
) -> list[DeployedAppEnvironment]:
    """Deploy one app (and the environments it depends on); the deployed app first."""
    [deployment] = await _deploy_all(
        app_env,
        dry_run=dry_run,
        version=version,
        copy_style=copy_style,
        project=project,
        domain=domain,
        parameter_values={app_env.name: parameter_values} if parameter_values else None,
    )
    return sorted(deployment.apps, key=lambda app: app.env.name != app_env.name)


deploy_apps = syncify(_deploy_apps)
deploy.__doc__ = """Deploy environments (with those they depend on) to the control plane.

Every task of each environment is registered with ``TaskService.DeployTask`` under one version:
``version`` when given, else a digest of the code bundle, the images and the task names (the
same code deploys to the same version). Triggers of the tasks are deployed with them.

Args:
    *envs: the environments to deploy.
    dry_run: build everything but send nothing; returns what would be deployed.
    version: the version to register (default: computed from the code).
    interactive_mode: not supported (deploy from a file).
    copy_style: ``"loaded_modules"`` (the modules imported from under the code root), ``"all"``
        (every file under it) or ``"none"`` (no bundle: the code is in the image).
    project: default: ``flyte.init``'s.
    domain: default: ``flyte.init``'s.

Returns:
    One :class:`Deployment` per environment given.

Raises:
    flyte.errors.DeploymentError: the control plane refused a task.
    flyte.errors.CodeBundleError: the code could not be bundled or uploaded.
    flyte.errors.InitializationError: no endpoint, project or domain is configured.

Example:
    >>> flyte.init(endpoint="localhost:8090", insecure=True, project="flytesnacks", domain="development")
    >>> [deployment] = flyte.deploy(env)  # doctest: +SKIP
    >>> print(deployment)  # doctest: +SKIP
    Deployed 2 task(s) of environment(s) demo at version 3f2a...
"""
