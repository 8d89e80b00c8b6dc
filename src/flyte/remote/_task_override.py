"""``TaskDetails.override``: a deployed task's spec with some settings replaced, for one run.

The deployed spec is copied and changed the way the SDK would have serialised those settings
(``flyte._internal.serde``); ``flyte.run`` then sends the whole spec instead of the task's id,
so the deployed task itself stays as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify_classmethod

if TYPE_CHECKING:
    from flyteidl2.task import task_definition_pb2

    from flyte._cache import CacheRequest
    from flyte._resources import Resources
    from flyte._retry import RetryStrategy
    from flyte._secret import SecretRequest
    from flyte._timeout import TimeoutType

__all__ = ["TaskDetailsExtras", "override_spec", "timeout_of"]


def override_spec(
    spec: task_definition_pb2.TaskSpec,
    *,
    short_name: str | None = None,
    resources: Resources | None = None,
    retries: int | RetryStrategy | None = None,
    timeout: TimeoutType | None = None,
    env_vars: dict[str, str] | None = None,
    secrets: SecretRequest | None = None,
    service_account: str | None = None,
    cache: CacheRequest | None = None,
) -> task_definition_pb2.TaskSpec:
    """A copy of ``spec`` with the given settings replaced (``None`` keeps the deployed one).

    ``env_vars`` and ``secrets`` replace the deployed ones as a whole; ``resources`` replaces the
    requests, limits and accelerator.

    Raises:
        ValueError: a setting has a value it cannot take (e.g. negative retries).

    Example:
        >>> from flyteidl2.task import task_definition_pb2
        >>> spec = task_definition_pb2.TaskSpec()
        >>> override_spec(spec, retries=3, short_name="fast").task_template.metadata.retries.retries
        3
    """
    from flyteidl2.core import literals_pb2
    from flyteidl2.task import task_definition_pb2

    from flyte._cache import normalize_cache
    from flyte._internal.serde._resources import extended_resources_to_proto, resources_to_proto
    from flyte._internal.serde._task import _duration, _secret_to_proto
    from flyte._retry import normalize_retries
    from flyte._secret import normalize_secrets
    from flyte._timeout import normalize_timeout

    new = task_definition_pb2.TaskSpec()
    new.CopyFrom(spec)
    template = new.task_template
    metadata = template.metadata
    if short_name:
        new.short_name = short_name
    if resources is not None:
        template.container.ClearField("resources")
        proto = resources_to_proto(resources)
        if proto is not None:
            template.container.resources.CopyFrom(proto)
        template.ClearField("extended_resources")
        extended = extended_resources_to_proto(resources)
        if extended is not None:
            template.extended_resources.CopyFrom(extended)
    if retries is not None:
        metadata.retries.CopyFrom(literals_pb2.RetryStrategy(retries=normalize_retries(retries).count))
    if timeout is not None:
        normalized = normalize_timeout(timeout)
        if normalized is not None:
            metadata.ClearField("timeout")
            metadata.ClearField("timeouts")
            if normalized.max_runtime_seconds is not None:
                metadata.timeout.CopyFrom(_duration(normalized.max_runtime_seconds))
            if normalized.max_queued_time_seconds is not None:
                metadata.timeouts.queued_timeout.CopyFrom(_duration(normalized.max_queued_time_seconds))
            if normalized.deadline_seconds is not None:
                metadata.timeouts.deadline.CopyFrom(_duration(normalized.deadline_seconds))
    if env_vars is not None:
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in env_vars.items()):
            raise ValueError("override(env_vars=...) must map str to str")
        kept = [pair for pair in template.container.env if pair.key.startswith("_F_")]
        template.container.ClearField("env")
        template.container.env.extend(kept)
        template.container.env.extend(literals_pb2.KeyValuePair(key=k, value=v) for k, v in env_vars.items())
    if secrets is not None:
        template.security_context.ClearField("secrets")
        template.security_context.secrets.extend(_secret_to_proto(secret) for secret in normalize_secrets(secrets))
    if service_account:
        template.security_context.run_as.k8s_service_account = service_account
    if cache is not None:
        normalized_cache = normalize_cache(cache)
        metadata.discoverable = normalized_cache.is_enabled()
        if normalized_cache.is_enabled():
            version = normalized_cache.version_override or metadata.discovery_version or template.id.version
            metadata.discovery_version = version
            metadata.cache_serializable = normalized_cache.serialize
            metadata.ClearField("cache_ignore_input_vars")
            metadata.cache_ignore_input_vars.extend(normalized_cache.get_ignored_inputs())
            metadata.ClearField("cache_max_age")
            if normalized_cache.max_age_seconds is not None:
                metadata.cache_max_age.CopyFrom(_duration(normalized_cache.max_age_seconds))
        else:
            metadata.discovery_version = ""
            metadata.cache_serializable = False
    return new


def timeout_of(spec: task_definition_pb2.TaskSpec) -> timedelta | None:
    """The longest an attempt may run under ``spec`` (``None``: no limit)."""
    stamp = spec.task_template.metadata.timeout
    if not (stamp.seconds or stamp.nanos):
        return None
    return timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


MAX_INLINE_IO_BYTES = 10 * 1024 * 1024
"""The default largest inputs/outputs a task passes inline (Flyte 2's 10 MiB)."""


class TaskDetailsExtras:
    """Flyte 2's members of :class:`flyte.remote.TaskDetails` beyond its fields: settings read from
    the deployed spec, and :meth:`override`."""

    # Provided by TaskDetails (declared for type checkers).
    name: str
    version: str
    project: str
    domain: str
    defaults: dict[str, Any]
    inputs: dict[str, str]
    _spec: task_definition_pb2.TaskSpec | None
    overridden: bool
    overriden_queue: str | None
    max_inline_io_bytes: int

    @classmethod
    def get(
        cls,
        name: str,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        auto_version: Literal["latest"] | None = None,
    ) -> Any:
        """A lazy reference to a deployed task (:meth:`flyte.remote.Task.get`)."""
        from flyte.remote._task import Task

        return Task.get(name, project=project, domain=domain, version=version, auto_version=auto_version)

    @syncify_classmethod
    @classmethod
    async def fetch(
        cls,
        name: str,
        project: str | None = None,
        domain: str | None = None,
        version: str | None = None,
        auto_version: Literal["latest"] | None = None,
    ) -> Any:
        """The details of a deployed task, fetched now.

        Raises:
            flyte.errors.RemoteTaskNotFoundError: no such task or version.
        """
        return await cls.get(name, project, domain, version, auto_version).fetch.aio()

    @property
    def queue(self) -> str | None:
        """The queue runs of this task are scheduled on, when :meth:`override` chose one."""
        return self.overriden_queue

    @property
    def default_input_args(self) -> tuple[str, ...]:
        """The inputs that have a default."""
        return tuple(name for name in self.inputs if name in self.defaults)

    @property
    def required_args(self) -> tuple[str, ...]:
        """The inputs without a default."""
        return tuple(name for name in self.inputs if name not in self.defaults)

    @property
    def secrets(self) -> list[str]:
        """The keys of the secrets the task requests."""
        if self._spec is None:
            return []
        return [secret.key for secret in self._spec.task_template.security_context.secrets]

    @property
    def resources(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(requests, limits)``: resource name (``cpu``, ``memory``, ``gpu``, ...) → quantity."""
        from flyteidl2.core import tasks_pb2

        if self._spec is None:
            return {}, {}
        container = self._spec.task_template.container

        def named(entries: Any) -> dict[str, str]:
            return {tasks_pb2.Resources.ResourceName.Name(e.name).lower(): e.value for e in entries}

        return named(container.resources.requests), named(container.resources.limits)

    @property
    def cache(self) -> Any:
        """The task's cache settings as a :class:`flyte.Cache`."""
        from flyte._cache import Cache

        if self._spec is None or not self._spec.task_template.metadata.discoverable:
            return Cache("disable")
        metadata = self._spec.task_template.metadata
        max_age = metadata.cache_max_age
        return Cache(
            "override",
            version_override=metadata.discovery_version or None,
            serialize=metadata.cache_serializable,
            ignored_inputs=tuple(metadata.cache_ignore_input_vars),
            max_age=timedelta(seconds=max_age.seconds, microseconds=max_age.nanos // 1000)
            if (max_age.seconds or max_age.nanos)
            else None,
        )

    def override(
        self,
        *,
        short_name: str | None = None,
        resources: Resources | None = None,
        retries: int | RetryStrategy | None = None,
        timeout: TimeoutType | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        service_account: str | None = None,
        max_inline_io_bytes: int | None = None,
        cache: CacheRequest | None = None,
        queue: str | None = None,
        produces_artifacts: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """This deployed task with some settings changed, for the runs started with the result.

        The deployed task is unchanged; ``flyte.run(details.override(...), ...)`` sends the changed
        spec with the run. ``None`` keeps a setting.

        Raises:
            flyte.errors.RemoteTaskUsageError: an unknown setting, or ``produces_artifacts``
                (artifacts are not supported here).

        Example:
            >>> task = flyte.remote.Task.get("demo.train", auto_version="latest").fetch()  # doctest: +SKIP
            >>> flyte.run(task.override(resources=flyte.Resources(cpu=4), retries=2), epochs=3)  # doctest: +SKIP
        """
        import dataclasses

        from flyte.errors import RemoteTaskUsageError

        if kwargs:
            raise RemoteTaskUsageError(
                f"Deployed task {self.name} cannot override {', '.join(sorted(kwargs))}; see TaskDetails.override"
            )
        if produces_artifacts:
            raise RemoteTaskUsageError("override(produces_artifacts=True) is not supported: there are no artifacts")
        if max_inline_io_bytes is not None and max_inline_io_bytes < 0:
            raise ValueError(f"max_inline_io_bytes must not be negative, got {max_inline_io_bytes}")
        if self._spec is None:
            raise RemoteTaskUsageError(f"Deployed task {self.name} has no spec to override; fetch() it first")
        spec = override_spec(
            self._spec,
            short_name=short_name,
            resources=resources,
            retries=retries,
            timeout=timeout,
            env_vars=env_vars,
            secrets=secrets,
            service_account=service_account,
            cache=cache,
        )
        metadata = spec.task_template.metadata
        changes: dict[str, Any] = {
            "_spec": spec,
            "overridden": True,
            "overriden_queue": queue or self.overriden_queue,
            "max_inline_io_bytes": max_inline_io_bytes if max_inline_io_bytes is not None else self.max_inline_io_bytes,
            "short_name": spec.short_name,
            "retries": int(metadata.retries.retries),
            "timeout": timeout_of(spec),
            "cache_enabled": metadata.discoverable,
            "cache_version": metadata.discovery_version,
            "env_vars": {pair.key: pair.value for pair in spec.task_template.container.env},
        }
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]  # self is a TaskDetails dataclass
