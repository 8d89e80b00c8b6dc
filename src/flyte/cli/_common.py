"""What every ``flyte`` command shares: the global options, error reporting, consoles."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["CLIConfig", "fail", "get_cli_config", "stderr_console", "stdout_console"]

OUTPUT_FORMATS = ("table", "json", "table-simple", "json-raw")
IMAGE_BUILDERS = ("local", "local-podman", "remote")
AUTH_TYPES = (
    "client-secret",
    "client_secret",
    "clientsecret",
    "app-credential",
    "app_credential",
    "headless",
    "device-flow",
    "device_flow",
    "pkce",
    "external-command",
    "external_command",
    "externalcommand",
    "command",
    "custom",
)


@dataclass(frozen=True, kw_only=True)
class CLIConfig:
    """The global options of ``flyte``, available to every subcommand as ``ctx.obj``."""

    verbose: int = 0
    """How many ``-v`` were given: tracebacks from 1, debug logs from 2."""
    config_file: Path | None = None
    """The config file from ``--config``; ``None`` means the usual search."""
    endpoint: str | None = None
    """The control plane from ``--endpoint``; overrides the config file."""
    insecure: bool = False
    """``--insecure``: connect without TLS."""
    org: str | None = None
    """The organisation from ``--org``."""
    image_builder: str | None = None
    """``--image-builder``: overrides ``image.builder`` of the config file."""
    auth_type: str | None = None
    """``--auth-type``: how to authenticate to the control plane."""
    output_format: str = "table"
    """``--output-format``: ``table``, ``table-simple``, ``json`` or ``json-raw``."""
    log_format: str = "console"
    """``--log-format``: ``console`` or ``json``."""
    user_log_level: str = "info"
    """``--user-log-level``: the level of task (user) logs."""
    reset_root_logger: bool = False
    """``--reset-root-logger``: route every log record through Flyte's handler."""
    progress: bool = True
    """Whether to show a spinner while waiting (off with ``--no-progress``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for options that later commands add."""

    @property
    def wants_json(self) -> bool:
        """Whether output should be JSON rather than a human-readable table."""
        return self.output_format in ("json", "json-raw")

    def init_kwargs(self, *, project: str | None = None, domain: str | None = None) -> dict[str, Any]:
        """The keyword arguments of ``flyte.init``: the config file, overridden by the global options.

        Raises:
            click.ClickException: the config file cannot be read.
        """
        from flyte.config import auto, config_to_init_kwargs
        from flyte.errors import InitializationError

        try:
            kwargs = config_to_init_kwargs(auto(self.config_file))
        except InitializationError as e:
            raise click.ClickException(str(e)) from e
        overrides = {
            "endpoint": self.endpoint,
            "org": self.org,
            "project": project,
            "domain": domain,
            "image_builder": self.image_builder,
            "auth_type": self.auth_type,
        }
        kwargs.update({key: value for key, value in overrides.items() if value is not None})
        if self.insecure:
            kwargs["insecure"] = True
        return kwargs


def get_cli_config(ctx: click.Context) -> CLIConfig:
    """The :class:`CLIConfig` of the root command (defaults when a command runs on its own)."""
    obj = ctx.find_object(CLIConfig)
    return obj if obj is not None else CLIConfig()


def stderr_console() -> Console:
    """A rich console on stderr, for progress and summaries."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    """A rich console on stdout, for results a script may read."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def fail(message: str, *, error: BaseException | None = None, verbose: int = 0) -> NoReturn:
    """Stop the command with ``Error: <message>`` on stderr and exit code 1.

    With ``-v`` the traceback of ``error`` is printed first, for debugging.
    """
    if error is not None and verbose > 0:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    raise click.ClickException(message) from error
