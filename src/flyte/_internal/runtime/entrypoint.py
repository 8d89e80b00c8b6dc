"""``a0``: the command a control plane runs for each attempt of each action.

    a0 --inputs <inputs.pb> --outputs-path <dir> --version <v> --raw-data-path <prefix>
       --checkpoint-path <dir> --prev-checkpoint <dir|""> --run-name <run> --name <action>
       --run-start-time <RFC3339> [--image-cache <b64>] (--tgz <uri> | --pkl <uri>) --dest <dir>
       [--resolver <import path> mod <module> instance <task>]

Unsubstituted ``{{.runName}}`` / ``{{.actionName}}`` fall back to ``RUN_NAME`` / ``ACTION_NAME``;
the run base, project, domain, org and attempt come from ``_U_RUN_BASE``,
``FLYTE_INTERNAL_EXECUTION_PROJECT`` / ``_DOMAIN``, ``_U_ORG_NAME`` and ``FLYTE_ATTEMPT_NUMBER``
unless given as ``--run-base-dir`` / ``--project`` / ``--domain`` / ``--org``. Nested calls reach
the control plane at ``_U_EP_OVERRIDE`` (``_U_INSECURE``, ``_U_USE_ACTIONS``).

Exit status: 0 when ``outputs.pb`` or ``error.pb`` was written (a task failure is not a crash),
1 when even that failed, 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte._internal.runtime.taskrunner import ActionOptions

__all__ = ["main", "options_from_args"]

logger = logging.getLogger("flyte")


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The argument parser (built once: a reused worker parses every attempt's arguments)."""
    parser = argparse.ArgumentParser(prog="a0", description="Run one attempt of a Flyte action.", allow_abbrev=False)
    parser.add_argument("--inputs", required=True, help="the inputs.pb of the action")
    parser.add_argument("--outputs-path", required=True, help="the attempt's output directory")
    parser.add_argument("--version", required=True, help="the code version")
    parser.add_argument("--raw-data-path", default="", help="prefix for offloaded data")
    parser.add_argument("--checkpoint-path", default=None)
    parser.add_argument("--prev-checkpoint", default=None)
    parser.add_argument("--run-name", default=None)
    parser.add_argument("--name", default=None, help="the action's name")
    parser.add_argument("--run-start-time", default=None)
    parser.add_argument("--image-cache", default=None)
    parser.add_argument("--tgz", default=None, help="a .tar.gz code bundle to extract")
    parser.add_argument("--pkl", default=None, help="a gzipped cloudpickle of the task")
    parser.add_argument("--dest", default=".", help="where the bundle is extracted")
    parser.add_argument("--resolver", default=None, help="import path of the task resolver")
    parser.add_argument("--run-base-dir", default=None)
    parser.add_argument("--project", default=None)
    parser.add_argument("--domain", default=None)
    parser.add_argument("--org", default=None)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--interactive-mode", action="store_true")
    parser.add_argument("resolver_args", nargs="*", help="the resolver's arguments")
    return parser


_VALUE_FLAGS = frozenset(
    {
        "--inputs",
        "--outputs-path",
        "--version",
        "--raw-data-path",
        "--checkpoint-path",
        "--prev-checkpoint",
        "--run-name",
        "--name",
        "--run-start-time",
        "--image-cache",
        "--tgz",
        "--pkl",
        "--dest",
        "--resolver",
        "--run-base-dir",
        "--project",
        "--domain",
        "--org",
    }
)
_SWITCHES = frozenset({"--debug", "--interactive-mode"})
_REQUIRED = ("inputs", "outputs_path", "version")


@functools.cache
def _defaults() -> dict[str, object]:
    """Every argument's default (the required ones ``None``)."""
    parsed = _parser().parse_args(["--inputs", "", "--outputs-path", "", "--version", ""])
    return {**vars(parsed), **dict.fromkeys(_REQUIRED)}


def _fast_parse(argv: Sequence[str]) -> argparse.Namespace | None:
    """The arguments as :func:`_parser` would parse them, for the usual shape only; else ``None``.

    A reused worker parses every attempt's command line, and ``argparse`` costs more than running a
    trivial task. The usual shape is ``--flag value`` pairs and switches, then the resolver's
    arguments; anything else (unknown flags, ``--flag=value``, a missing value, positionals between
    flags) is left to ``argparse`` and its error messages.
    """
    values = argparse.Namespace(**_defaults())
    index, count = 0, len(argv)
    while index < count:
        token = argv[index]
        if not token.startswith("-"):
            break
        if token in _SWITCHES:
            setattr(values, token[2:].replace("-", "_"), True)
            index += 1
            continue
        if token not in _VALUE_FLAGS or index + 1 >= count or argv[index + 1].startswith("-"):
            return None
        setattr(values, token[2:].replace("-", "_"), argv[index + 1])
        index += 2
    rest = list(argv[index:])
    if any(token.startswith("-") for token in rest):
        return None
    values.resolver_args = rest
    if any(getattr(values, name) is None for name in _REQUIRED):
        return None
    return values


def _templated(value: str | None) -> bool:
    return value is None or value.startswith("{{") or value == ""


def _optional_path(value: str | None) -> str | None:
    if value is None or value in ('""', "''", "") or value.startswith("{{"):
        return None
    return value


def options_from_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> ActionOptions:
    """Parse ``a0`` arguments and the environment into :class:`~.taskrunner.ActionOptions`.

    Raises:
        SystemExit: the arguments are unusable (status 2, with a message on stderr).

    Example:
        >>> options_from_args(["--inputs", "i.pb", "--outputs-path", "o", "--version", "v",
        ...     "--run-name", "r1", "--name", "a0"], {}).run_name
        'r1'
    """
    from flyte._internal.runtime.taskrunner import ActionOptions, parse_run_start_time

    env = os.environ if environ is None else environ
    parser = _parser()
    args = _fast_parse(argv)
    if args is None:
        args, unknown = parser.parse_known_args(list(argv))
        if unknown:
            logger.warning("a0 ignores unknown arguments: %s", " ".join(unknown))
    run_name = args.run_name if not _templated(args.run_name) else env.get("RUN_NAME", "")
    action_name = args.name if not _templated(args.name) else env.get("ACTION_NAME", "")
    if not run_name or not action_name:
        parser.error("the run and action names are unknown: pass --run-name/--name or set RUN_NAME/ACTION_NAME")
    if args.tgz and args.pkl:
        parser.error("--tgz and --pkl cannot be used together")
    try:
        attempt = int(env.get("FLYTE_ATTEMPT_NUMBER", "0") or 0)
    except ValueError:
        parser.error(f"FLYTE_ATTEMPT_NUMBER must be an integer, got {env.get('FLYTE_ATTEMPT_NUMBER')!r}")
    return ActionOptions(
        inputs=args.inputs,
        outputs_path=args.outputs_path,
        version=args.version,
        run_name=run_name,
        action_name=action_name,
        raw_data_path=args.raw_data_path if not _templated(args.raw_data_path) else "",
        checkpoint_path=_optional_path(args.checkpoint_path),
        prev_checkpoint=_optional_path(args.prev_checkpoint),
        run_start_time=parse_run_start_time(args.run_start_time),
        project=args.project or env.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
        domain=args.domain or env.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
        org=args.org or env.get("_U_ORG_NAME", ""),
        run_base_dir=args.run_base_dir or env.get("_U_RUN_BASE") or None,
        image_cache=args.image_cache,
        tgz=args.tgz,
        pkl=args.pkl,
        dest=args.dest,
        resolver=args.resolver,
        resolver_args=list(args.resolver_args),
        attempt_number=attempt,
        sys_path=env.get("_F_SYS_PATH") or None,
        use_actions=env.get("_U_USE_ACTIONS") == "1",
    )


def _level(text: str | None, default: int) -> int:
    text = (text or "").strip()
    if text.isdigit():
        return int(text)
    named = logging.getLevelName(text.upper()) if text else None
    return named if isinstance(named, int) else default


class _JSONFormatter(logging.Formatter):
    """One JSON object per line (``LOG_FORMAT=json``)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        document = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document)


def _configure_logging(environ: Mapping[str, str]) -> None:
    """The run's log settings (``flyte.with_runcontext(log_level=..., log_format=..., ...)``).

    ``LOG_LEVEL``: Flyte's logger; ``USER_LOG_LEVEL``: ``flyte.user`` (``flyte.logger``);
    ``LOG_FORMAT=json``: JSON lines; ``FLYTE_RESET_ROOT_LOGGER=1``: the root logger writes the same
    way (third-party libraries' lines too). ``_F_E_VS=1`` (``debug=True``) asks for a VS Code
    server, which this runtime does not start: it says so in the log and runs the task normally.
    """
    handler = logging.StreamHandler(sys.stderr)
    if environ.get("LOG_FORMAT", "").strip().lower() == "json":
        handler.setFormatter(_JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("[flyte] %(levelname)s %(message)s"))
    flyte_logger = logging.getLogger("flyte")
    flyte_logger.addHandler(handler)
    flyte_logger.setLevel(_level(environ.get("LOG_LEVEL"), logging.WARNING))
    flyte_logger.propagate = False
    if environ.get("USER_LOG_LEVEL"):
        logging.getLogger("flyte.user").setLevel(_level(environ.get("USER_LOG_LEVEL"), logging.INFO))
    if environ.get("FLYTE_RESET_ROOT_LOGGER") == "1":
        root = logging.getLogger()
        for existing in list(root.handlers):
            root.removeHandler(existing)
        root.addHandler(handler)
    if environ.get("_F_E_VS") == "1":
        flyte_logger.warning("debug=True: this runtime starts no VS Code server; the task runs normally")


def _init_sdk(project: str, domain: str, org: str, environ: Mapping[str, str]) -> None:
    """Make ``flyte.current_project()`` and friends answer inside the task."""
    import flyte

    endpoint = environ.get("_U_EP_OVERRIDE") or None
    insecure = environ.get("_U_INSECURE", "").lower() in ("1", "true", "yes") or (
        endpoint is not None and ("localhost" in endpoint or "docker" in endpoint)
    )
    flyte.init(org=org or None, project=project or None, domain=domain or None, endpoint=endpoint, insecure=insecure)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one action attempt (see the module docstring); returns the exit status."""
    import asyncio

    from flyte._internal.runtime.taskrunner import run_action

    environ = os.environ
    _configure_logging(environ)
    options = options_from_args(sys.argv[1:] if argv is None else argv, environ)
    _init_sdk(options.project, options.domain, options.org, environ)
    logger.info(
        "Running action %s of run %s (attempt %d)", options.action_name, options.run_name, options.attempt_number
    )
    try:
        succeeded = asyncio.run(run_action(options))
    except Exception:  # the result files could not be written: the backend sees a crashed worker
        logger.exception("a0 could not record the outcome of action %s", options.action_name)
        return 1
    logger.info("Action %s %s", options.action_name, "succeeded" if succeeded else "failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
