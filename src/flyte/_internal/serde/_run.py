"""Run options → ``flyteidl2.task.RunSpec``, as the Flyte 2 SDK fills it for ``CreateRun``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flyteidl2.core import literals_pb2
from flyteidl2.task import run_pb2
from google.protobuf import wrappers_pb2

if TYPE_CHECKING:
    from flyte._run import RunConfig

__all__ = ["cache_lookup_scope_to_proto", "run_env", "run_spec_to_proto"]


def run_env(config: RunConfig, *, sys_path: str | None = None) -> dict[str, str]:
    """The environment every action of a run gets: the user's variables, then the log settings.

    ``LOG_LEVEL`` (Flyte's logger; default: this process's level), ``LOG_FORMAT``,
    ``USER_LOG_LEVEL`` (``flyte.user``; default: its level here, else INFO), ``FLYTE_RESET_ROOT_LOGGER``
    and ``_F_E_VS`` (``debug=True``), and ``_F_SYS_PATH`` when ``sys_path`` is given, as the
    Flyte 2 SDK sends them. A variable the user set wins over a log default.

    Example:
        >>> from flyte._run import RunConfig
        >>> run_env(RunConfig(log_level=10, debug=True))["_F_E_VS"]
        '1'
    """
    import logging

    env = dict(config.env_vars)
    if "LOG_LEVEL" not in env:
        env["LOG_LEVEL"] = str(config.log_level or logging.getLogger("flyte").getEffectiveLevel())
    env["LOG_FORMAT"] = config.log_format
    if "USER_LOG_LEVEL" not in env:
        env["USER_LOG_LEVEL"] = str(config.user_log_level or logging.getLogger("flyte.user").level or logging.INFO)
    if config.reset_root_logger:
        env["FLYTE_RESET_ROOT_LOGGER"] = "1"
    if config.debug:
        env["_F_E_VS"] = "1"
    if sys_path is not None:
        env["_F_SYS_PATH"] = sys_path
    return env


def cache_lookup_scope_to_proto(scope: str) -> int:
    """``"global"`` / ``"project-domain"`` → ``CacheLookupScope``.

    Raises:
        ValueError: another value.
    """
    scopes = {
        "global": run_pb2.CACHE_LOOKUP_SCOPE_GLOBAL,
        "project-domain": run_pb2.CACHE_LOOKUP_SCOPE_PROJECT_DOMAIN,
    }
    if scope not in scopes:
        raise ValueError(f"Unknown cache lookup scope {scope!r}; use 'global' or 'project-domain'")
    return int(scopes[scope])


def run_spec_to_proto(
    config: RunConfig, *, sys_path: str | None = None, base: run_pb2.RunSpec | None = None
) -> run_pb2.RunSpec:
    """The ``RunSpec`` of a run started with ``config`` (``flyte.with_runcontext`` options).

    ``envs`` holds :func:`run_env`. With ``base`` (a stored run's spec, for a rerun) the result
    is a copy of ``base`` with the options ``config`` sets on top (its env merged over the
    stored one) and without the stored provenance (``relation``, ``recover``).

    Example:
        >>> from flyte._run import RunConfig
        >>> run_spec_to_proto(RunConfig(overwrite_cache=True)).cache_config.overwrite_cache
        True
    """
    env = run_env(config, sys_path=sys_path)
    spec = run_pb2.RunSpec()
    if base is not None:
        spec.CopyFrom(base)
        for provenance in ("relation", "related_to", "recover"):
            spec.ClearField(provenance)  # type: ignore[arg-type]  # names checked against the descriptor
        env = {pair.key: pair.value for pair in base.envs.values} | env
    spec.envs.CopyFrom(run_pb2.Envs(values=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in env.items()]))
    spec.labels.SetInParent()  # Flyte 2 always sends both messages, empty or not
    spec.annotations.SetInParent()
    for key, value in config.labels.items():
        spec.labels.values[key] = value
    for key, value in config.annotations.items():
        spec.annotations.values[key] = value
    if config.overwrite_cache or base is None:
        spec.overwrite_cache = config.overwrite_cache
        spec.cache_config.overwrite_cache = config.overwrite_cache
    spec.cache_config.cache_lookup_scope = cache_lookup_scope_to_proto(config.cache_lookup_scope)  # type: ignore[assignment]  # enum value
    if config.interruptible is not None:
        spec.interruptible.CopyFrom(wrappers_pb2.BoolValue(value=config.interruptible))
    if config.queue:
        spec.queue = config.queue
    if config.raw_data_path:
        spec.raw_data_storage.raw_data_prefix = config.raw_data_path
    if config.service_account:
        spec.security_context.run_as.k8s_service_account = config.service_account
    if config.max_action_concurrency is not None:
        spec.max_action_concurrency = config.max_action_concurrency
    if config.run_base_dir:
        spec.run_base_dir = config.run_base_dir
    if config.notifications is not None:
        from flyte.notify import to_run_spec

        rule_name, rules = to_run_spec(config.notifications)
        spec.ClearField("notification_rule_name")
        spec.ClearField("notification_rules")
        if rule_name:
            spec.notification_rule_name = rule_name
        if rules is not None:
            spec.notification_rules.CopyFrom(rules)
    if config.run_start_time is not None:
        spec.run_start_time.FromDatetime(_utc(config.run_start_time))
    elif base is not None:
        spec.ClearField("run_start_time")
    return spec


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
