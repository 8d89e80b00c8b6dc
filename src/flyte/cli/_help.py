"""How ``flyte ... --help`` looks with rich-click: option groups per command, the usual colours.

Only imported when help is asked for (see ``flyte/cli/__init__.py``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPTION_GROUPS", "configure_rich_help"]

_RUN_GROUPS: list[dict[str, Any]] = [
    {
        "name": "Where it runs",
        "options": ["--local", "--project", "--domain", "--run-project", "--run-domain", "--queue"],
    },
    {
        "name": "Following the run",
        "options": ["--wait", "--follow", "--name"],
    },
    {
        "name": "What it runs with",
        "options": [
            "--env",
            "--label",
            "--overwrite-cache",
            "--max-action-concurrency",
            "--image",
            "--raw-data-path",
            "--service-account",
            "--debug",
        ],
    },
    {
        "name": "Code shipping",
        "options": ["--copy-style", "--root-dir", "--version", "--pkl", "--no-sync-local-sys-paths", "--tracked"],
    },
]

_GLOBAL_GROUPS: list[dict[str, Any]] = [
    {"name": "Control plane", "options": ["--endpoint", "--insecure", "--auth-type", "--org", "--config"]},
    {
        "name": "Output",
        "options": [
            "--output-format",
            "--verbose",
            "--log-format",
            "--user-log-level",
            "--reset-root-logger",
            "--no-progress",
        ],
    },
]

_SERVER_GROUPS: list[dict[str, Any]] = [
    {"name": "Listening", "options": ["--host", "--port", "--allowed-host", "--tls-cert", "--tls-key"]},
    {
        "name": "Storage",
        "options": ["--data-dir", "--db", "--storage", "--s3-endpoint", "--s3-access-key-id", "--s3-secret-access-key"],
    },
    {
        "name": "Execution",
        "options": [
            "--executor",
            "--workers",
            "--park-after",
            "--worker-python",
            "--worker-user",
            "--worker-s3-access-key-id",
            "--worker-s3-secret-access-key",
        ],
    },
    {"name": "Plugin tasks", "options": ["--dask-scheduler", "--spark-master"]},
]

OPTION_GROUPS: dict[str, list[dict[str, Any]]] = {
    "flyte": _GLOBAL_GROUPS,
    "flyte run": _RUN_GROUPS,
    "flyte start server": _SERVER_GROUPS,
}


def configure_rich_help() -> Any:
    """The rich-click configuration of the ``flyte`` command."""
    from rich_click import RichHelpConfiguration

    return RichHelpConfiguration(
        option_groups=OPTION_GROUPS,  # type: ignore[arg-type]  # plain dicts of its OptionGroupDict shape
        show_arguments=True,
        text_markup="ansi",
        errors_suggestion="Try 'flyte --help' for the commands and global options.",
    )
