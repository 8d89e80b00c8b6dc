"""From an action to a worker command line and environment (PROTOCOL.md §3.c).

The task template's container args carry ``{{.input}}``-style templates that the backend fills in
per attempt; ``a0`` becomes the runtime entry point of the worker Python environment. The
environment is the worker base (storage settings, this server's address), then the run's env vars
(inherited by children), the task's container env, its secrets, and the runtime variables.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from flyteidl2.core import security_pb2

from flyte._internal.parking import PARK_AFTER_ENV
from flyte._internal.runtime.storage import INLINE_LIMIT_ENV
from flyte_server.engine.data import INLINE_DATA_MAX
from flyte_server.engine.model import ActionState
from flyte_server.executors import AttemptKey, LaunchSpec, attempt_labels
from flyte_server.executors.resources import resources_of
from flyte_server.isolation import inherited_environment
from flyte_server.secrets import secret_env_vars

__all__ = ["Launcher", "PrepareError", "SecretResolver", "park_after_seconds", "rfc3339", "substitute"]

logger = logging.getLogger(__name__)

SecretResolver = Callable[[str, str, Sequence[security_pb2.Secret]], Awaitable[dict[str, str]]]

RAW_CONTAINER = "raw-container"
"""The template type of ``flyte.extras.ContainerTask`` (a command in an image, inputs and outputs as files)."""

_TEMPLATE = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


_DEFAULT_PARK_AFTER = 2.0


def park_after_seconds() -> float | None:
    """``FLYTE_SERVER_PARK_AFTER``: seconds a wait stays in its process before the attempt parks.

    Default 2; ``off`` (or a negative number) keeps every wait in its process.
    """
    value = os.environ.get("FLYTE_SERVER_PARK_AFTER", "").strip().lower()
    if not value:
        return _DEFAULT_PARK_AFTER
    if value in ("off", "never", "no", "false"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        logger.warning("FLYTE_SERVER_PARK_AFTER=%r is not a number of seconds: using %g", value, _DEFAULT_PARK_AFTER)
        return _DEFAULT_PARK_AFTER
    return seconds if seconds >= 0 else None


class PrepareError(RuntimeError):
    """The attempt cannot be launched as specified (no command, a missing secret); not retried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def rfc3339(timestamp_us: int) -> str:
    """``2026-01-02T03:04:05Z`` (second precision, as Flyte's backend renders it)."""
    moment = datetime.fromtimestamp(timestamp_us / 1e6, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def substitute(arguments: Sequence[str], values: dict[str, str]) -> list[str]:
    """Replace ``{{.name}}`` (case-insensitive) with ``values[name.lower()]``; unknown names stay."""

    def replace(match: re.Match[str]) -> str:
        return values.get(match.group(1).lower(), match.group(0))

    return [_TEMPLATE.sub(replace, argument) for argument in arguments]


def _input_prefix(a: ActionState) -> str:
    """The directory of the action's inputs (its own directory when they travel inline)."""
    uri = a.input_uri
    if uri.startswith("data:") or "/" not in uri:
        return f"{a.run_output_base.rstrip('/')}/{a.key.name}" if a.run_output_base else uri
    return uri.rsplit("/", 1)[0]


SECRETS_DIR = "/etc/flyte/secrets"
"""Where a task's ``Secret(mount=...)`` files are, as on Flyte: ``<dir>/<group>/<key>`` (``<dir>/<key>``)."""


def secret_files(template: object) -> dict[str, str]:
    """The task's file secrets: path → the environment variable that holds the value."""
    if template is None:
        return {}
    files: dict[str, str] = {}
    for secret in template.security_context.secrets:  # type: ignore[attr-defined]
        if secret.mount_requirement == security_pb2.Secret.MountType.FILE and secret.key:
            path = "/".join(part for part in (SECRETS_DIR, secret.group, secret.key) if part)
            files[path] = secret_env_vars(secret)[0]
    return files


class Launcher:
    """Builds the :class:`LaunchSpec` of an attempt."""

    def __init__(
        self,
        *,
        worker_python: str,
        data_dir: Path,
        base_url: str,
        storage_env: dict[str, str],
        secret_resolver: SecretResolver | None,
        home: str | None = None,
    ) -> None:
        self.worker_python = worker_python
        self.worker_bin = Path(worker_python).parent
        self.data_dir = data_dir
        self.work_root = data_dir / "work"
        self.log_root = data_dir / "logs"
        self.secret_resolver = secret_resolver
        parts = urlsplit(base_url)
        self.endpoint = parts.netloc or base_url
        self.task_credentials: Callable[[str, str, str, int], dict[str, str]] | None = None
        """Adds a run's credential to its attempts' environment (set by the server when auth is on)."""
        self.home = home
        self.image_venvs = False
        """Run attempts of built images in a virtualenv of their image's Python layers (flyte._internal.venvs)."""
        self.strict_images = os.environ.get("FLYTE_STRICT_IMAGES", "") not in ("", "0", "false")
        """Refuse images with layers a virtualenv cannot hold (apt packages, commands...)."""
        self.base_env = self._base_env(storage_env)

    def _base_env(self, storage_env: dict[str, str]) -> dict[str, str]:
        # An allow-list, never the server's whole environment: that holds its master key, database
        # URL and store credentials (see flyte_server.isolation).
        env = inherited_environment(os.environ)
        if self.home is not None:
            env["HOME"] = self.home
        env["PATH"] = os.pathsep.join([str(self.worker_bin), env.get("PATH", os.defpath)])
        env.update(storage_env)
        env.update(
            {
                "_U_EP_OVERRIDE": self.endpoint,
                "_U_INSECURE": "true",
                "_U_ORG_NAME": "local",
                # PyPI flyte's runtime sends condition actions only through ActionsService.
                "_U_USE_ACTIONS": "1",
                INLINE_LIMIT_ENV: str(INLINE_DATA_MAX),
                "PYTHONUNBUFFERED": "1",
            }
        )
        park_after = park_after_seconds()
        if park_after is not None:
            env[PARK_AFTER_ENV] = f"{park_after:g}"
        return env

    def work_dir(self, a: ActionState, attempt: int | None = None) -> Path:
        """The attempt's working directory (unique per attempt; it identifies the worker after a restart)."""
        key = a.key
        return self.work_root / key.project / key.domain / key.run / key.name / str(attempt or a.attempt)

    def log_path(self, a: ActionState, attempt: int | None = None) -> Path:
        key = a.key
        return self.log_root / key.project / key.domain / key.run / key.name / f"{attempt or a.attempt}.log"

    def template_values(self, a: ActionState) -> dict[str, str]:
        output = a.output_dir()
        raw_prefix = a.run.run_spec.raw_data_storage.raw_data_prefix
        raw = f"{raw_prefix.rstrip('/')}/{a.key.run}/{a.key.name}/{a.attempt}" if raw_prefix else output
        previous = f"{a.output_dir(a.attempt - 1)}/_flytecheckpoints" if a.attempt > 1 else '""'
        return {
            "input": a.input_uri,
            "inputprefix": _input_prefix(a),
            "outputprefix": output,
            "rawoutputdataprefix": raw,
            "checkpointoutputprefix": f"{output}/_flytecheckpoints",
            "prevcheckpointprefix": previous,
            "runname": a.key.run,
            "actionname": a.key.name,
            "runstarttime": rfc3339(a.run.start_us),
            "perretryuniquekey": f"{a.key.run}-{a.key.name}-{a.attempt}",
            "namespace": f"{a.key.project}-{a.key.domain}",
        }

    def command(self, a: ActionState) -> tuple[list[str], str | None]:
        """The substituted command line and whether it runs the ``a0`` entry point."""
        template = a.template
        if template is None or not template.HasField("container"):
            raise PrepareError(
                "UnsupportedTask",
                f"task type {template.type if template is not None else '?'!r} has no container command; "
                "the local executor runs container tasks",
            )
        container = template.container
        argv = substitute([*container.command, *container.args], self.template_values(a))
        if not argv:
            raise PrepareError("UnsupportedTask", "the task's container has no command or args")
        entry: str | None = None
        if template.type == RAW_CONTAINER:
            return self._raw_container(a, argv), "raw"
        if argv[0] == "a0":
            runtime = self.worker_bin / "a0"
            if not runtime.exists():
                raise PrepareError(
                    "RuntimeNotFound",
                    f"the worker environment has no Flyte runtime ({runtime} is missing); start the server with "
                    "--worker-python pointing at the Python of an environment where flyte is installed",
                )
            argv[0] = str(runtime)
            entry = "a0"
        elif argv[0] in ("python", "python3"):
            argv[0] = self.worker_python
        return argv, entry

    def _raw_container(self, a: ActionState, argv: list[str]) -> list[str]:
        """A ContainerTask's command behind the runtime that makes inputs and outputs files (docs/containers.md)."""
        config = a.template.container.data_config
        values = self.template_values(a)
        return [
            self.worker_python,
            "-m",
            "flyte.extras._container_runtime",
            "--inputs",
            a.input_uri,
            "--outputs-path",
            values["outputprefix"],
            "--raw-data-path",
            values["rawoutputdataprefix"],
            "--interface",
            base64.b64encode(a.template.interface.SerializeToString()).decode(),
            "--input-dir",
            config.input_path or "/var/inputs",
            "--output-dir",
            config.output_path or "/var/outputs",
            "--",
            *argv,
        ]

    async def environment(self, a: ActionState) -> dict[str, str]:
        return (await self._environment(a))[0]

    async def _environment(self, a: ActionState) -> tuple[dict[str, str], frozenset[str]]:
        """The attempt's environment and which of its names hold secrets."""
        secret_names: frozenset[str] = frozenset()
        env = dict(self.base_env)
        env.update(a.env)
        template = a.template
        if template is not None and template.HasField("container"):
            env.update({pair.key: pair.value for pair in template.container.env})
        if template is not None and template.security_context.secrets:
            if self.secret_resolver is None:
                raise PrepareError("SecretNotFound", "the task asks for secrets, but this server has no secret store")
            try:
                secrets = await self.secret_resolver(a.key.project, a.key.domain, template.security_context.secrets)
                env.update(secrets)
                secret_names = frozenset(secrets)
            except LookupError as error:
                raise PrepareError("SecretNotFound", str(error)) from error
        env.update(
            {
                "ACTION_NAME": a.key.name,
                "RUN_NAME": a.key.run,
                "_U_RUN_BASE": a.run_output_base,
                "_U_ORG_NAME": "local",
                "_U_EP_OVERRIDE": self.endpoint,
                "_U_INSECURE": "true",
                "FLYTE_INTERNAL_EXECUTION_PROJECT": a.key.project,
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": a.key.domain,
                "FLYTE_INTERNAL_EXECUTION_ID": a.key.run,
                "FLYTE_ATTEMPT_NUMBER": str(a.attempt - 1),
            }
        )
        if self.task_credentials is not None:
            env.update(self.task_credentials(a.key.project, a.key.domain, a.key.run, a.run.start_us))
        return env, secret_names

    def _in_image_venv(self, a: ActionState, argv: list[str], entry: str | None) -> tuple[list[str], str | None]:
        """The command through the image-venv entry when the task's image is a built one."""
        if not self.image_venvs or entry != "a0" or a.template is None:
            return argv, entry
        from flyte._internal.venvs.enter import wrap_command

        cache = Path(self.home) / ".cache" / "flyte" / "venvs" if self.home else self.data_dir / "venvs"
        wrapped = wrap_command(
            argv,
            image=a.template.container.image,
            worker_python=self.worker_python,
            server_python=sys.executable,
            cache_dir=cache,
            strict=self.strict_images,
        )
        return (wrapped, None) if wrapped is not None else (argv, entry)

    async def prepare(self, a: ActionState) -> LaunchSpec:
        """The launch spec of ``a``'s current attempt.

        Raises:
            PrepareError: the task cannot run here as specified.
        """
        argv, entry = self._in_image_venv(a, *self.command(a))
        try:
            resources = resources_of(a.template)
        except ValueError as error:
            raise PrepareError("InvalidResources", str(error)) from error
        env, secret_names = await self._environment(a)
        key = AttemptKey(*a.key, a.attempt)
        return LaunchSpec(
            argv=argv,
            env=env,
            cwd=self.work_dir(a),
            log_path=self.log_path(a),
            entry=entry,
            key=key,
            labels=attempt_labels(key),
            image=a.template.container.image or None,
            resources=resources,
            secret_env=secret_names,
            secret_files=secret_files(a.template),
        )
