"""Run options → ``flyteidl2.task.RunSpec``, as the Flyte 2 SDK fills it for ``CreateRun``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyteidl2.core import literals_pb2
from flyteidl2.task import run_pb2
from google.protobuf import wrappers_pb2

if TYPE_CHECKING:
    from flyte._run import RunConfig

__all__ = ["run_spec_to_proto"]


def run_spec_to_proto(
    config: RunConfig,
    *,
    sys_path: str | None = None,
    log_level: int = 30,
    log_format: str = "console",
    user_log_level: int = 20,
) -> run_pb2.RunSpec:
    """The ``RunSpec`` of a run started with ``config`` (``flyte.with_runcontext`` options).

    ``envs`` holds the user's variables, then ``LOG_LEVEL``, ``LOG_FORMAT``, ``USER_LOG_LEVEL``
    and ``_F_SYS_PATH`` (when ``sys_path`` is given); the backend passes them to every action.
    ``config.extra["service_account"]`` becomes the run's Kubernetes service account.

    Example:
        >>> from flyte._run import RunConfig
        >>> run_spec_to_proto(RunConfig(overwrite_cache=True)).cache_config.overwrite_cache
        True
    """
    envs = [literals_pb2.KeyValuePair(key=key, value=value) for key, value in config.env_vars.items()]
    envs += [
        literals_pb2.KeyValuePair(key="LOG_LEVEL", value=str(log_level)),
        literals_pb2.KeyValuePair(key="LOG_FORMAT", value=log_format),
        literals_pb2.KeyValuePair(key="USER_LOG_LEVEL", value=str(user_log_level)),
    ]
    if sys_path is not None:
        envs.append(literals_pb2.KeyValuePair(key="_F_SYS_PATH", value=sys_path))
    spec = run_pb2.RunSpec(
        labels=run_pb2.Labels(values=dict(config.labels)),
        annotations=run_pb2.Annotations(values=dict(config.annotations)),
        envs=run_pb2.Envs(values=envs),
        overwrite_cache=config.overwrite_cache,
        cache_config=run_pb2.CacheConfig(
            overwrite_cache=config.overwrite_cache, cache_lookup_scope=run_pb2.CACHE_LOOKUP_SCOPE_GLOBAL
        ),
    )
    if config.interruptible is not None:
        spec.interruptible.CopyFrom(wrappers_pb2.BoolValue(value=config.interruptible))
    if config.queue:
        spec.queue = config.queue
    if config.raw_data_path:
        spec.raw_data_storage.raw_data_prefix = config.raw_data_path
    service_account = config.extra.get("service_account")
    if service_account:
        spec.security_context.run_as.k8s_service_account = str(service_account)
    if config.max_action_concurrency is not None:
        spec.max_action_concurrency = config.max_action_concurrency
    if config.run_base_dir:
        spec.run_base_dir = config.run_base_dir
    return spec
