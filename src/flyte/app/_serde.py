"""An ``AppEnvironment`` as flyteidl2's ``app_definition_pb2.App`` (the shape PyPI flyte sends)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.app._parameters import encode_parameters
from flyte.app._types import Parameter, Scaling, Subdomain

if TYPE_CHECKING:
    from flyteidl2.app import app_definition_pb2

    from flyte.app._app_environment import AppEnvironment

__all__ = ["RESOLVER", "app_to_idl", "env_reference", "fserve_command"]

RESOLVER = "flyte._internal.resolvers.app_env.AppEnvResolver"


def env_reference(env: AppEnvironment, root_dir: Path | None) -> str:
    """``module:attribute`` naming ``env`` (what ``--resolver-args`` carries).

    Raises:
        flyte.errors.DeploymentError: the environment is not a module-level variable of a file.
    """
    from flyte.errors import DeploymentError

    file = env._declaring_file
    wanted = env._origin or env
    for name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None)
        if module_file is None or file is None:
            continue
        try:
            same = Path(module_file).resolve() == Path(file)
        except OSError:
            continue
        if not same:
            continue
        attribute = next((k for k, v in list(vars(module).items()) if v is wanted), None)
        if attribute is None:
            continue
        if name == "__main__":
            root = (root_dir or Path.cwd()).resolve()
            try:
                relative = Path(file).relative_to(root).with_suffix("")
            except ValueError as e:
                raise DeploymentError(f"app {env.name!r} is defined in {file}, outside the code root {root}") from e
            name = ".".join(relative.parts)
        return f"{name}:{attribute}"
    raise DeploymentError(f"app {env.name!r} must be a module-level variable of a Python file to be deployed")


def _serves_itself(env: AppEnvironment) -> bool:
    """Whether ``fserve`` must load the environment (a FastAPI app or a ``@server`` function)."""
    return getattr(env, "app", None) is not None or env._server is not None


def _reference_or_none(env: AppEnvironment, root_dir: Path | None) -> str | None:
    """``env_reference``, or ``None`` for a command-line app that no module variable holds.

    Raises:
        flyte.errors.DeploymentError: an app that serves itself is not a module-level variable.
    """
    from flyte.errors import DeploymentError

    try:
        return env_reference(env, root_dir)
    except DeploymentError:
        if _serves_itself(env):
            raise
        return None


def fserve_command(env: AppEnvironment, context: Any, overrides: list[Parameter] | None = None) -> list[str]:
    """``fserve`` with the version, scope, code bundle, parameters and the resolver of ``env``.

    The resolver is left out for a command-line app that no module variable holds (it needs no
    Python of its own); an app that serves itself must be importable.
    """
    command = ["fserve", "--version", context.version, "--project", context.project, "--domain", context.domain]
    command += ["--org", context.org or ""]
    bundle = context.code_bundle
    if bundle is not None and bundle.tgz:
        command += ["--tgz", bundle.tgz, "--dest", bundle.destination or "."]
    elif bundle is not None and bundle.pkl:
        command += ["--pkl", bundle.pkl, "--dest", bundle.destination or "."]
    parameters = overrides if overrides is not None else env.parameters
    if parameters:
        command += ["--parameters", encode_parameters(parameters)]
    command += ["--raw-data-path", "{{.rawOutputDataPrefix}}"]
    reference = _reference_or_none(env, context.root_dir)
    if reference is not None:
        command += ["--resolver", RESOLVER, "--resolver-args", reference]
    command.append("--")
    return command


def _image(env: AppEnvironment, context: Any) -> str:
    from flyte._image import Image

    if context.image_cache is not None:
        chosen = context.image_cache.image_lookup.get(env.name)
        if chosen:
            return str(chosen)
    if isinstance(env.image, Image):
        return env.image.uri
    if isinstance(env.image, str) and env.image != "auto":
        return env.image
    return Image.from_debian_base().uri


def _scaling(scaling: Scaling) -> Any:
    from flyteidl2.app import app_definition_pb2

    from flyte.app._types import _seconds

    low, high = scaling.get_replicas()
    config = app_definition_pb2.AutoscalingConfig(replicas=app_definition_pb2.Replicas(min=low, max=high))
    if scaling.scaledown_after is not None:
        config.scaledown_period.FromSeconds(int(_seconds(scaling.scaledown_after, "") or 0))
    if isinstance(scaling.metric, Scaling.Concurrency):
        config.scaling_metric.concurrency.target_value = scaling.metric.val
    elif isinstance(scaling.metric, Scaling.RequestRate):
        config.scaling_metric.request_rate.target_value = scaling.metric.val
    return config


def _ingress(env: AppEnvironment, context: Any) -> Any:
    from flyteidl2.app import app_definition_pb2

    ingress = app_definition_pb2.IngressConfig()
    domain = env.domain
    if domain is None:
        return ingress
    if isinstance(domain.subdomain, Subdomain):
        ingress.subdomain = domain.subdomain.resolve(env, context)
    elif domain.subdomain:
        ingress.subdomain = domain.subdomain
    if domain.custom_domain:
        ingress.cname = domain.custom_domain
    return ingress


def app_to_idl(
    env: AppEnvironment, context: Any, parameters: list[Parameter] | None = None, *, active: bool = True
) -> app_definition_pb2.App:
    """The ``App`` message that deploys ``env`` (``parameters``: the materialized values).

    Raises:
        flyte.errors.DeploymentError: the app serves itself but is not importable from a file.
    """
    from flyteidl2.app import app_definition_pb2
    from flyteidl2.core import literals_pb2, tasks_pb2

    from flyte._internal.serde._context import SDK_RUNTIME_VERSION
    from flyte._internal.serde._resources import extended_resources_to_proto, resources_to_proto
    from flyte._internal.serde._task import _secret_to_proto
    from flyte._secret import normalize_secrets

    parameters = env.parameters if parameters is None else parameters
    port = env.get_port()
    env_vars = dict(env.env_vars or {})
    if context.sys_path is not None:
        env_vars["_F_SYS_PATH"] = context.sys_path
    container = tasks_pb2.Container(
        image=_image(env, context),
        args=env.container_args(context),
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in env_vars.items()],
        ports=[tasks_pb2.ContainerPort(container_port=port.port, name=port.name or "")],
    )
    container.command.extend(env.container_cmd(context, parameters))
    resources = resources_to_proto(env.resources)
    if resources is not None:
        container.resources.CopyFrom(resources)
    spec = app_definition_pb2.Spec(
        container=container,
        autoscaling=_scaling(env.scaling),
        ingress=_ingress(env, context),
        desired_state=(
            app_definition_pb2.Spec.DESIRED_STATE_ACTIVE if active else app_definition_pb2.Spec.DESIRED_STATE_STOPPED
        ),
        profile=app_definition_pb2.Profile(type=env.type or "", short_description=env.description or ""),
        inputs=app_definition_pb2.InputList(
            items=[app_definition_pb2.Input(name=p.name, string_value=p.string_value() or "") for p in parameters]
        ),
        links=[
            app_definition_pb2.Link(path=link.path, title=link.title, is_relative=link.is_relative)
            for link in env.links
        ],
    )
    if env.cluster:
        spec.cluster = env.cluster  # a named cluster, not a pool
    else:
        spec.cluster_pool = env.cluster_pool
    secrets = normalize_secrets(env.secrets)
    if secrets or env.service_account:
        spec.security_context.run_as.SetInParent()
        if env.service_account:
            spec.security_context.run_as.k8s_service_account = env.service_account
        spec.security_context.secrets.extend(_secret_to_proto(secret) for secret in secrets)
    if not env.requires_auth:
        spec.security_context.allow_anonymous = True
    extended = extended_resources_to_proto(env.resources)
    if extended is not None:
        spec.extended_resources.CopyFrom(extended)
    spec.runtime_metadata.type = tasks_pb2.RuntimeMetadata.FLYTE_SDK
    spec.runtime_metadata.version = SDK_RUNTIME_VERSION
    spec.runtime_metadata.flavor = "python"
    request_timeout = env.timeouts.request_seconds
    if request_timeout is not None:
        spec.timeouts.request_timeout.FromSeconds(int(request_timeout))
    metadata = app_definition_pb2.Meta(
        id=app_definition_pb2.Identifier(
            org=context.org or "", project=context.project, domain=context.domain, name=env.name
        )
    )
    if context.code_bundle is not None and context.code_bundle.tgz:
        metadata.code_bundle_uri = context.code_bundle.tgz
    return app_definition_pb2.App(metadata=metadata, spec=spec)
