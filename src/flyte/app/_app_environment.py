"""``AppEnvironment``: a long-running server (an API, a dashboard, a model) deployed next to tasks."""

from __future__ import annotations

import inspect
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._task_environment import Environment
from flyte.app._types import Domain, Link, Parameter, Port, Scaling, Timeouts

if TYPE_CHECKING:
    from flyte.remote._app import App

__all__ = ["AppEnvironment", "ConnectorEnvironment", "DeployedAppEnvironment"]

_APP_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass(kw_only=True, eq=False)
class AppEnvironment(Environment):
    """An app: a process serving HTTP on ``port``, started by ``command``/``args`` or by a
    function decorated with :meth:`server`.

    Example:
        >>> import flyte.app
        >>> env = flyte.app.AppEnvironment(name="files", args="python -m http.server 8080", port=8080)
        >>> env.get_port().port
        8080
    """

    include: tuple[str, ...] = ()
    service_account: str | None = None
    type: str | None = None
    port: int | Port = 8080
    args: list[str] | str | None = None
    command: list[str] | str | None = None
    requires_auth: bool = True
    scaling: Scaling = field(default_factory=Scaling)
    domain: Domain | None = field(default_factory=Domain)
    links: list[Link] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    cluster_pool: str = "default"
    cluster: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)

    _server: Callable[..., Any] | None = field(default=None, init=False, repr=False)
    _on_startup: Callable[..., Any] | None = field(default=None, init=False, repr=False)
    _on_shutdown: Callable[..., Any] | None = field(default=None, init=False, repr=False)
    _declaring_file: str | None = field(default=None, init=False, repr=False)
    _local_endpoint: str | None = field(default=None, init=False, repr=False)
    """``http://localhost:<port>`` once served locally (what :attr:`endpoint` says then)."""
    _origin: AppEnvironment | None = field(default=None, init=False, repr=False)
    """The module-level environment this one was copied from (what ``--resolver-args`` names)."""

    def __post_init__(self) -> None:
        self._validate_name()
        super().__post_init__()
        if isinstance(self.port, int) and not isinstance(self.port, bool):
            self.port = Port(port=self.port)
        if not isinstance(self.port, Port):
            raise TypeError(f"port of app {self.name!r} must be an int or a flyte.app.Port, got {self.port!r}")
        if not isinstance(self.scaling, Scaling):
            raise TypeError(f"scaling of app {self.name!r} must be a flyte.app.Scaling")
        names = [p.name for p in self.parameters]
        if len(names) != len(set(names)):
            raise ValueError(f"app {self.name!r} declares a parameter twice: {names}")
        self.include = tuple(self.include)
        self._declaring_file = self._get_declaring_file()

    @staticmethod
    def _caller_frame() -> inspect.FrameInfo | None:
        for frame in inspect.stack()[1:]:
            name = frame.filename
            if "/flyte/app/" not in name and "/dataclasses.py" not in name and "<string>" not in name:
                return frame
        return None

    def _get_declaring_file(self) -> str | None:
        frame = self._caller_frame()
        return str(Path(frame.filename).resolve()) if frame is not None and Path(frame.filename).is_file() else None

    def _validate_name(self) -> None:
        if not isinstance(self.name, str) or not _APP_NAME.match(self.name):
            raise ValueError(
                f"App name {self.name!r} must be lower-case letters, digits and '-', "
                "starting and ending with a letter or digit"
            )

    def get_port(self) -> Port:
        """The port the app listens on."""
        assert isinstance(self.port, Port)
        return self.port

    @property
    def endpoint(self) -> str:
        """Where the app answers: ``http://localhost:<port>`` once served locally, else its URL on
        the configured control plane (``<endpoint>/apps/<name>/``), else that path alone."""
        if self._local_endpoint is not None:
            return self._local_endpoint
        from flyte._initialize import get_init_config

        configured = get_init_config().endpoint
        if configured:
            from flyte.remote._client._endpoint import normalize_endpoint

            return (
                f"{normalize_endpoint(configured, insecure=get_init_config().insecure).rstrip('/')}/apps/{self.name}/"
            )
        return f"/apps/{self.name}/"

    def server(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate the function that serves the app (sync or async; it must listen on the port)."""
        self._server = func
        return func

    def on_startup(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate a function to run before the server starts."""
        self._on_startup = func
        return func

    def on_shutdown(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate a function to run after the server stops."""
        self._on_shutdown = func
        return func

    def container_cmd(self, serialize_context: Any, parameter_overrides: list[Parameter] | None = None) -> list[str]:
        """The process command: ``command`` when given, else ``fserve`` with this app's settings."""
        from flyte.app._serde import fserve_command

        if self.command is not None:
            return shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        return fserve_command(self, serialize_context, parameter_overrides)

    def container_args(self, serialize_context: Any) -> list[str]:
        """The arguments appended to :meth:`container_cmd`."""
        if self.args is None:
            return []
        return shlex.split(self.args) if isinstance(self.args, str) else list(self.args)

    def _local_command(self) -> list[str]:
        """What a command-line app runs: ``command`` (if any) then ``args``."""
        command: list[str] = []
        if self.command is not None:
            command = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        return command + self.container_args(None)

    def clone_with(self, name: str, **kwargs: Any) -> AppEnvironment:
        """A copy under another name with some fields changed (``None`` values keep this one's).

        Its server function and start/stop hooks are this one's.
        """
        changes = {k: v for k, v in kwargs.items() if v is not None}
        return self._replaced(name=name, **changes)

    def _replaced(self, **changes: Any) -> AppEnvironment:
        """``dataclasses.replace`` that keeps the decorated functions and the declaring file."""
        copy = replace(self, **changes)
        copy._server, copy._on_startup, copy._on_shutdown = self._server, self._on_startup, self._on_shutdown
        copy._declaring_file = self._declaring_file
        copy._origin = self._origin or self
        return copy

    def _get_kwargs(self) -> dict[str, Any]:
        return {}


@dataclass(kw_only=True, eq=False)
class ConnectorEnvironment(AppEnvironment):
    """An app serving Flyte connectors (gRPC over h2c)."""

    type: str = "connector"
    port: int | Port = field(default_factory=lambda: Port(8080, name="h2c"))


@dataclass
class DeployedAppEnvironment:
    """An app environment and the app the control plane made of it."""

    env: AppEnvironment
    deployed_app: App

    def get_name(self) -> str:
        return self.env.name

    def summary_repr(self) -> str:
        return f"app {self.env.name}: {self.deployed_app.endpoint}"

    def table_repr(self) -> list[tuple[str, str]]:
        return [("name", self.env.name), ("url", self.deployed_app.endpoint)]
