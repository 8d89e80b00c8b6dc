"""Tasks → ``flyteidl2.task.TaskSpec``, the shape the PyPI Flyte 2 SDK sends (PROTOCOL.md §3.a).

Two flavours exist, as in Flyte 2:

* the *deploy* spec (``TaskService.DeployTask``) adds ``default_inputs``, ``documentation``, the
  environment's description and the ``_F_SYS_PATH`` container variable;
* the *run* spec (``UploadInputs``/``CreateRun`` and every nested ``Enqueue``) leaves them out.

Container args are templated; the backend substitutes ``{{.input}}``, ``{{.outputPrefix}}``, ...
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flyteidl2.core import identifier_pb2, interface_pb2, literals_pb2, security_pb2, tasks_pb2
from flyteidl2.task import common_pb2, environment_pb2, task_definition_pb2
from google.protobuf import duration_pb2, wrappers_pb2

from flyte._internal.serde._context import SDK_RUNTIME_VERSION, SerializationContext
from flyte._internal.serde._resources import extended_resources_to_proto, resources_to_proto

if TYPE_CHECKING:
    from flyte._internal.resolvers.common import Resolver
    from flyte._secret import Secret
    from flyte._task import TaskTemplate

__all__ = [
    "cache_version",
    "container_args",
    "environment_name",
    "image_uri",
    "task_identifier",
    "task_template_to_proto",
    "task_to_spec",
]

DEFAULT_RESOLVER = "flyte._internal.resolvers.default.DefaultTaskResolver"


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return duration


def environment_name(task: TaskTemplate[Any, Any]) -> str:
    """The name of the environment the task belongs to (``env`` of ``env.function``)."""
    env = task.parent_env() if task.parent_env is not None else None
    if env is not None:
        return env.name
    return task.name.split(".", 1)[0]


def image_uri(task: TaskTemplate[Any, Any], context: SerializationContext) -> str:
    """The image the task runs in: the context's choice for its environment, else its own image.

    ``"auto"`` (and no image) means the default Flyte image for this Python.
    """
    if context.image_cache is not None:
        chosen = context.image_cache.image_lookup.get(environment_name(task))
        if chosen:
            return chosen
    from flyte._image import Image

    image = task.image
    if isinstance(image, Image):
        return image.uri
    if isinstance(image, str) and image != "auto":
        return image
    return Image.from_debian_base().uri


def cache_version(task: TaskTemplate[Any, Any]) -> str:
    """The ``discovery_version``: the cache version, or the default policies' version when caching is off."""
    from flyte._cache import Cache, VersionParameters

    params = VersionParameters(func=getattr(task, "func", None), image=None)
    if task.cache.is_enabled():
        return task.cache.get_version(params)
    try:
        return Cache("auto").get_version(params)
    except ValueError:
        return ""


def task_identifier(task: TaskTemplate[Any, Any], context: SerializationContext) -> task_definition_pb2.TaskIdentifier:
    """``TaskIdentifier{org, project, domain, name, version}`` of the task."""
    return task_definition_pb2.TaskIdentifier(
        org=context.org, project=context.project, domain=context.domain, name=task.name, version=context.version
    )


def container_args(
    task: TaskTemplate[Any, Any], context: SerializationContext, resolver: Resolver | None = None
) -> list[str]:
    """The ``a0 ...`` command line of the task, with the backend's templates left in place.

    Example:
        >>> container_args(task, SerializationContext(version="v1", code_bundle=bundle))[:3]  # doctest: +SKIP
        ['a0', '--inputs', '{{.input}}']
    """
    args = [
        "a0",
        "--inputs",
        context.input_path,
        "--outputs-path",
        context.output_path,
        "--version",
        context.version,
        "--raw-data-path",
        "{{.rawOutputDataPrefix}}",
        "--checkpoint-path",
        "{{.checkpointOutputPrefix}}",
        "--prev-checkpoint",
        "{{.prevCheckpointPrefix}}",
        "--run-name",
        "{{.runName}}",
        "--name",
        "{{.actionName}}",
        "--run-start-time",
        "{{.runStartTime}}",
    ]
    if context.image_cache is not None:
        args += ["--image-cache", context.image_cache.to_transport()]
    bundle = context.code_bundle
    if bundle is not None and bundle.pkl is not None:
        return [*args, "--pkl", bundle.pkl, "--dest", bundle.destination]
    if bundle is not None and bundle.tgz is not None:
        args += ["--tgz", bundle.tgz, "--dest", bundle.destination]
    if resolver is None:
        from flyte._internal.resolvers.default import DefaultTaskResolver

        resolver = DefaultTaskResolver()
    root_dir = context.root_dir
    if root_dir is None:
        from flyte._initialize import get_init_config

        root_dir = get_init_config().root_dir
    return [*args, "--resolver", resolver.import_path, *resolver.loader_args(task, root_dir)]


def _secret_to_proto(secret: Secret) -> security_pb2.Secret:
    if secret.mount is not None:
        return security_pb2.Secret(group=secret.group or "", key=secret.key, mount_requirement=security_pb2.Secret.FILE)
    return security_pb2.Secret(
        group=secret.group or "",
        key=secret.key,
        mount_requirement=security_pb2.Secret.ENV_VAR,
        env_var=secret.env_var,
    )


def _metadata(task: TaskTemplate[Any, Any], context: SerializationContext) -> tasks_pb2.TaskMetadata:
    cache = task.cache
    metadata = tasks_pb2.TaskMetadata(
        discoverable=cache.is_enabled(),
        runtime=tasks_pb2.RuntimeMetadata(
            type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version=SDK_RUNTIME_VERSION, flavor="python"
        ),
        retries=literals_pb2.RetryStrategy(retries=task.retries.count),
        discovery_version=cache_version(task),
        interruptible=task.interruptible,
        cache_serializable=cache.is_enabled() and cache.serialize,
        cache_ignore_input_vars=list(cache.get_ignored_inputs()) if cache.is_enabled() else [],
        generates_deck=wrappers_pb2.BoolValue(value=task.report),
        debuggable=task.debuggable if task.reusable is None else False,
        is_entrypoint=task.entrypoint,
    )
    timeout = task.timeout
    if timeout is not None:
        if timeout.max_runtime_seconds is not None:
            metadata.timeout.CopyFrom(_duration(timeout.max_runtime_seconds))
        if timeout.max_queued_time_seconds is not None:
            metadata.timeouts.queued_timeout.CopyFrom(_duration(timeout.max_queued_time_seconds))
        if timeout.deadline_seconds is not None:
            metadata.timeouts.deadline.CopyFrom(_duration(timeout.deadline_seconds))
    if cache.is_enabled() and cache.max_age_seconds is not None:
        metadata.cache_max_age.CopyFrom(_duration(cache.max_age_seconds))
    if isinstance(task.pod_template, str):
        metadata.pod_template_name = task.pod_template
    if context.code_bundle is not None:
        metadata.code_bundle_uri = context.code_bundle.uri
    return metadata


def task_template_to_proto(
    task: TaskTemplate[Any, Any],
    context: SerializationContext,
    *,
    deploy: bool = False,
    resolver: Resolver | None = None,
) -> tasks_pb2.TaskTemplate:
    """The ``core.TaskTemplate`` of a task (see the module docstring for ``deploy``)."""
    env = [literals_pb2.KeyValuePair(key=key, value=value) for key, value in task.env_vars.items()]
    if deploy and context.sys_path is not None:
        env.append(literals_pb2.KeyValuePair(key="_F_SYS_PATH", value=context.sys_path))
    from flyte._task import TaskTemplate

    # A plugin that overrides TaskTemplate.container_args decides its command line itself.
    overridden = type(task).container_args is not TaskTemplate.container_args
    args = task.container_args(context) if overridden else container_args(task, context, resolver)
    container = tasks_pb2.Container(image=image_uri(task, context), args=args, env=env)
    resources = resources_to_proto(task.resources)
    if resources is not None:
        container.resources.CopyFrom(resources)
    data_config = task.data_loading_config(context)  # raw containers (flyte.extras.ContainerTask)
    if data_config is not None:
        container.data_config.CopyFrom(data_config)
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=context.project,
            domain=context.domain,
            name=task.name,
            version=context.version,
            org=context.org,
        ),
        type=task.task_type,
        metadata=_metadata(task, context),
        interface=task.interface.to_typed_interface(),
        container=container,
        task_type_version=task.task_type_version,
    )
    if task.secrets or task.service_account:
        security = template.security_context
        security.secrets.extend(_secret_to_proto(secret) for secret in task.secrets)
        if task.service_account:
            security.run_as.k8s_service_account = task.service_account
    extended = extended_resources_to_proto(task.resources)
    if extended is not None:
        template.extended_resources.CopyFrom(extended)
    custom = task.custom_config(context)
    if custom:
        template.custom.update(custom)
    template.config.update(task.config(context))
    return template


async def _default_inputs(task: TaskTemplate[Any, Any]) -> list[common_pb2.NamedParameter]:
    from flyte.types._interface import NativeInterface, convert_inputs_to_literals

    interface = task.interface
    empty = inspect.Parameter.empty
    defaults = {name: default for name, (_, default) in interface.inputs.items() if default is not empty}
    if not defaults:
        return []
    only_defaults = NativeInterface.from_types({name: interface.inputs[name] for name in defaults}, {})
    literals = await convert_inputs_to_literals(only_defaults, defaults, task_name=task.name)
    typed = only_defaults.to_typed_interface().inputs.variables
    variables = {entry.key: entry.value for entry in typed}
    return [
        common_pb2.NamedParameter(
            name=name, parameter=interface_pb2.Parameter(var=variables[name], default=literals[name])
        )
        for name in defaults
    ]


# The flyteidl2 length limits of a TaskSpec's texts; longer texts are cut as Flyte 2 cuts them.
_SHORT_NAME_MAX = 63
_DESCRIPTION_MAX = 255
_LONG_DESCRIPTION_MAX = 2048
_CUT_MARK = "...(tr.)"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_CUT_MARK)] + _CUT_MARK


def _documentation(task: TaskTemplate[Any, Any]) -> task_definition_pb2.DocumentationEntity:
    func = getattr(task, "func", None)
    docstring = inspect.getdoc(func) if func is not None else None
    if not docstring:
        description = task.docs.description if task.docs is not None else None
        return task_definition_pb2.DocumentationEntity(short_description=_cut(description or "", _DESCRIPTION_MAX))
    short, _, rest = docstring.partition("\n\n")
    return task_definition_pb2.DocumentationEntity(
        short_description=_cut(short.strip(), _DESCRIPTION_MAX),
        long_description=_cut(rest.strip(), _LONG_DESCRIPTION_MAX),
    )


async def task_to_spec(
    task: TaskTemplate[Any, Any],
    context: SerializationContext,
    *,
    deploy: bool = False,
    resolver: Resolver | None = None,
) -> task_definition_pb2.TaskSpec:
    """The ``TaskSpec`` of ``task``, as Flyte 2 sends it to deploy it (``deploy=True``) or to run it.

    Args:
        task: a task made with ``@env.task``.
        context: version, project/domain/org, code bundle and images.
        deploy: add what only ``DeployTask`` carries (default inputs, documentation, the
            environment description and ``_F_SYS_PATH``).
        resolver: how workers find the task in the bundle (default: ``DefaultTaskResolver``).

    Raises:
        flyte.errors.ModuleLoadError: the task's module cannot be named (a script outside the root).
        flyte.errors.RuntimeDataValidationError: a default value does not match its input's type.

    Example:
        >>> spec = await task_to_spec(  # doctest: +SKIP
        ...     main, SerializationContext(version="v1", project="p", domain="d", code_bundle=bundle))
        >>> spec.task_template.container.args[0]  # doctest: +SKIP
        'a0'
    """
    env = task.parent_env() if task.parent_env is not None else None
    spec = task_definition_pb2.TaskSpec(
        task_template=task_template_to_proto(task, context, deploy=deploy, resolver=resolver),
        short_name=task.short_name[:_SHORT_NAME_MAX],
        environment=environment_pb2.Environment(name=environment_name(task)),
    )
    if deploy:
        spec.default_inputs.extend(await _default_inputs(task))
        spec.documentation.CopyFrom(_documentation(task))
        if env is not None and env.description:
            spec.environment.description = _cut(env.description, _DESCRIPTION_MAX)
    return spec


def trace_interface(func: Any) -> interface_pb2.TypedInterface:
    """The typed interface of a traced function (empty when its annotations cannot be typed)."""
    from flyte.types._interface import NativeInterface

    try:
        return NativeInterface.from_callable(func).to_typed_interface()
    except (TypeError, ValueError):
        return interface_pb2.TypedInterface()
