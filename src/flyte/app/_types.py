"""The small value types of an app's configuration: ports, scaling, timeouts, links, domains, parameters."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    import flyte.io
    from flyte.app._app_environment import AppEnvironment

__all__ = [
    "AppEndpoint",
    "ArtifactValue",
    "Domain",
    "Link",
    "Parameter",
    "ParameterType",
    "Port",
    "RunOutput",
    "Scaling",
    "Subdomain",
    "Timeouts",
]

ParameterType = Literal["string", "file", "directory", "app_endpoint"]
_RESERVED_PORTS = {8012, 8022, 8112, 9090, 9091}


def _seconds(value: int | float | datetime.timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{what} must be a non-negative number of seconds or a timedelta, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Port:
    """The port the app listens on inside its container, with an optional protocol name (``h2c``)."""

    port: int
    name: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"port must be an integer in 1..65535, got {self.port!r}")
        if self.port in _RESERVED_PORTS:
            raise ValueError(f"port {self.port} is reserved by the platform; pick another")


@dataclass(frozen=True)
class Link:
    """A link shown with the app in the console (``is_relative``: relative to the app's URL)."""

    path: str
    title: str
    is_relative: bool = False


@dataclass(frozen=True)
class Timeouts:
    """Request timeout of the app (seconds or a timedelta)."""

    request: int | datetime.timedelta | None = None

    def __post_init__(self) -> None:
        _seconds(self.request, "Timeouts.request")

    @property
    def request_seconds(self) -> float | None:
        return _seconds(self.request, "Timeouts.request")


@dataclass(frozen=True)
class Scaling:
    """How many replicas run: ``replicas`` is a fixed count or ``(min, max)``; 0 as min scales to zero.

    ``scaledown_after`` is how long a replica may stay idle before it is stopped; ``metric`` says
    what drives scaling (in-flight requests per replica by default).
    """

    @dataclass(frozen=True)
    class Concurrency:
        """Target in-flight requests per replica."""

        val: int

    @dataclass(frozen=True)
    class RequestRate:
        """Target requests per second per replica."""

        val: int

    replicas: int | tuple[int, int] = (0, 1)
    metric: Scaling.Concurrency | Scaling.RequestRate | None = None
    scaledown_after: int | datetime.timedelta | None = None

    def __post_init__(self) -> None:
        low, high = self.get_replicas()
        if low < 0 or high < 1 or low > high:
            raise ValueError(
                f"replicas must be N >= 1 or (min, max) with 0 <= min <= max and max >= 1, got {self.replicas!r}"
            )
        _seconds(self.scaledown_after, "Scaling.scaledown_after")

    def get_replicas(self) -> tuple[int, int]:
        """``(min, max)``."""
        value = self.replicas
        if isinstance(value, int) and not isinstance(value, bool):
            return value, value
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
            return int(value[0]), int(value[1])
        raise ValueError(f"replicas must be an int or a (min, max) pair, got {value!r}")


@dataclass(frozen=True)
class Subdomain:
    """The app's subdomain: its name (default the app's) with a project/domain suffix, or a function."""

    app_name: str | None = None
    project_domain_suffix: Literal["hash", "default"] = "hash"
    function: Callable[[AppEnvironment, Any], str] | None = None

    def __post_init__(self) -> None:
        if (self.app_name is None) == (self.function is None):
            raise ValueError("Subdomain needs exactly one of app_name or function")
        if self.project_domain_suffix not in ("hash", "default"):
            raise ValueError(f"project_domain_suffix must be 'hash' or 'default', got {self.project_domain_suffix!r}")

    def resolve(self, env: AppEnvironment, context: Any) -> str:
        """The subdomain for ``env`` deployed with ``context`` (its project and domain)."""
        import hashlib

        if self.function is not None:
            return str(self.function(env, context))
        scope = f"{context.project}-{context.domain}"
        if self.project_domain_suffix == "default":
            return f"{self.app_name}-{scope}"
        return f"{self.app_name}-{hashlib.sha256(scope.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Domain:
    """Where the app is reachable besides ``/apps/<name>/``: a subdomain or a custom domain."""

    subdomain: str | Subdomain | None = None
    custom_domain: str | None = None


class _DelayedValue:
    """A parameter value resolved when the app is deployed (a run's output, an artifact, an app's URL)."""

    type: ParameterType | None

    async def materialize(self) -> str:
        raise NotImplementedError

    async def get(self) -> str:
        return await self.materialize()


@dataclass(kw_only=True)
class RunOutput(_DelayedValue):
    """The output of a run (by name) or of the latest run of a task, resolved at deploy time.

    ``getter`` picks the value out of the outputs: ``(0,)`` is the first output; further items
    index into it (a key of a dict, an attribute name, a list index).
    """

    type: ParameterType
    run_name: str | None = None
    task_name: str | None = None
    task_version: str | None = None
    task_auto_version: Literal["latest", "current"] | None = None
    getter: tuple[Any, ...] = (0,)

    def __post_init__(self) -> None:
        if (self.run_name is None) == (self.task_name is None):
            raise ValueError("RunOutput needs exactly one of run_name or task_name")

    async def materialize(self) -> str:
        from flyte.app._parameters import resolve_run_output

        return await resolve_run_output(self)


@dataclass(kw_only=True)
class ArtifactValue(_DelayedValue):
    """An artifact's value (by name and optional version)."""

    type: ParameterType | None = None
    name: str
    version: str | None = None
    project: str | None = None
    domain: str | None = None

    async def materialize(self) -> str:
        from flyte.errors import DeploymentError

        raise DeploymentError(f"artifact {self.name!r}: artifacts are not served by this control plane")


@dataclass(kw_only=True)
class AppEndpoint(_DelayedValue):
    """The URL of another deployed app."""

    type: Literal["string"] = "string"
    app_name: str
    public: bool = False

    async def materialize(self) -> str:
        from flyte.remote._app import App

        return (await App.get.aio(self.app_name)).endpoint


ParameterValue = Union[str, "flyte.io.File[Any]", "flyte.io.Dir[Any]", _DelayedValue, None]


@dataclass
class Parameter:
    """A named value handed to the app at start: a string, a file or directory, or a delayed value.

    The app reads it with :func:`flyte.app.get_parameter` or, with ``env_var``, from that
    environment variable. ``type`` defaults to what the value is (``"string"`` for text);
    a :class:`flyte.io.File`/:class:`flyte.io.Dir` value, or one with a ``mount``, is downloaded
    before the app starts (``download=False`` keeps a File/Dir as its URI).
    """

    name: str
    value: ParameterValue = None
    type: ParameterType | None = None
    env_var: str | None = None
    download: bool = True
    mount: str | None = None
    ignore_patterns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"parameter name must be a non-empty string, got {self.name!r}")
        value = self.value
        if value is not None and not isinstance(value, (str, _DelayedValue)) and not _is_file_or_dir(value):
            raise TypeError(
                f"parameter {self.name!r}: the value must be a str, flyte.io.File, flyte.io.Dir, RunOutput, "
                f"ArtifactValue or AppEndpoint, got {type(value).__name__}"
            )

    def effective_type(self) -> ParameterType:
        """``type``, else what the value is: ``"file"``/``"directory"`` for File/Dir, else ``"string"``."""
        if self.type is not None:
            return self.type
        declared = getattr(self.value, "type", None) if isinstance(self.value, _DelayedValue) else None
        return declared or _infer_type(self.value)

    def effective_download(self) -> bool:
        """Whether the value is downloaded before the app starts (File/Dir values, or any with a ``mount``)."""
        if self.mount is not None:
            return True
        return bool(self.download) and _is_file_or_dir(self.value)

    def string_value(self) -> str | None:
        """The value as the app receives it (``None`` while it is a delayed value)."""
        value = self.value
        if isinstance(value, _DelayedValue):
            return None
        if value is None:
            return ""
        path = getattr(value, "path", None)
        if path is not None and _is_file_or_dir(value):
            return str(path)
        return str(value)


def _is_file_or_dir(value: Any) -> bool:
    from flyte.io import Dir, File

    return isinstance(value, (File, Dir))


def _infer_type(value: Any) -> ParameterType:
    from flyte.io import Dir, File

    if isinstance(value, File):
        return "file"
    if isinstance(value, Dir):
        return "directory"
    return "string"
