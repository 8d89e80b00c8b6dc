"""Handles on a Flyte control plane: runs, actions, tasks, apps, projects, triggers, secrets, the user.

Every call is sync by default, with an async form on ``.aio`` (``Run.get("r1")`` /
``await Run.get.aio("r1")``). Handles are plain objects (attributes and ``to_dict()``); the
Connect clients underneath live in :mod:`flyte.remote._client`. Nothing here is imported until
first used, so ``import flyte.remote`` is cheap.

Example:
    >>> import flyte, flyte.remote
    >>> flyte.init(endpoint="localhost:8090", insecure=True, project="flytesnacks", domain="development")
    >>> runs = flyte.remote.Run.listall(in_phase=("failed",), limit=5)  # doctest: +SKIP
    >>> runs[0].raise_for_status()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Action",
    "ActionAttempt",
    "ActionDetails",
    "ActionError",
    "ActionInputs",
    "ActionOutputs",
    "App",
    "Artifact",
    "Condition",
    "PartitionSchema",
    "Project",
    "Run",
    "RunDetails",
    "Secret",
    "SecretTypes",
    "Settings",
    "Task",
    "TaskDetails",
    "TimeFilter",
    "Trigger",
    "TriggerDetails",
    "User",
    "auth_metadata",
    "upload_dir",
    "upload_file",
]

_EXPORTS = {
    "Action": "flyte.remote._action",
    "ActionAttempt": "flyte.remote._action",
    "ActionDetails": "flyte.remote._action_details",
    "ActionError": "flyte.remote._action",
    "ActionInputs": "flyte._run",
    "ActionOutputs": "flyte._run",
    "App": "flyte.remote._app",
    "Artifact": "flyte.remote._artifact",
    "Condition": "flyte.remote._condition",
    "PartitionSchema": "flyte.remote._artifact",
    "Project": "flyte.remote._project",
    "Run": "flyte.remote._run",
    "RunDetails": "flyte.remote._run",
    "Secret": "flyte.remote._secret",
    "SecretTypes": "flyte.remote._secret",
    "Settings": "flyte.remote._settings",
    "Task": "flyte.remote._task",
    "TaskDetails": "flyte.remote._task",
    "TimeFilter": "flyte.remote._common",
    "Trigger": "flyte.remote._trigger",
    "TriggerDetails": "flyte.remote._trigger",
    "User": "flyte.remote._user",
    "auth_metadata": "flyte.remote._auth_metadata",
    "upload_dir": "flyte.remote._data",
    "upload_file": "flyte.remote._data",
}

if TYPE_CHECKING:
    from flyte._run import ActionInputs, ActionOutputs
    from flyte.remote._action import Action, ActionAttempt, ActionError
    from flyte.remote._action_details import ActionDetails
    from flyte.remote._app import App
    from flyte.remote._artifact import Artifact, PartitionSchema
    from flyte.remote._auth_metadata import auth_metadata
    from flyte.remote._common import TimeFilter
    from flyte.remote._condition import Condition
    from flyte.remote._data import upload_dir, upload_file
    from flyte.remote._project import Project
    from flyte.remote._run import Run, RunDetails
    from flyte.remote._secret import Secret, SecretTypes
    from flyte.remote._settings import Settings
    from flyte.remote._task import Task, TaskDetails
    from flyte.remote._trigger import Trigger, TriggerDetails
    from flyte.remote._user import User


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte.remote' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
