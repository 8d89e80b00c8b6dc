"""``flyte.load_interactive_ctx``: step into a task's context from a REPL, notebook or debugger.

A task run in debug mode writes its context to ``.flyte/run_context.json`` (see
:func:`write_interactive_ctx`); loading it configures the SDK against the same control plane and
makes ``flyte.ctx()`` answer as it would inside the task.

The file is JSON: ``{"action": {"name", "run_name", "project", "domain", "org"}, "version",
"output_path", "run_base_dir", "raw_data_path", "input_path", "mode", "attempt_number",
"custom_context", "task_name", "endpoint", "insecure"}``; ``action.name``, ``version`` and
``output_path`` are required.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from flyte.models import ActionID, RawDataPath, TaskContext

__all__ = ["DEFAULT_CONTEXT_FILE", "load_interactive_ctx", "write_interactive_ctx"]

DEFAULT_CONTEXT_FILE = pathlib.Path(".flyte") / "run_context.json"
"""Where the context file is written and read, relative to the working directory."""


def write_interactive_ctx(
    task_context: TaskContext,
    path: str | os.PathLike[str] | None = None,
    *,
    endpoint: str | None = None,
    insecure: bool = False,
) -> pathlib.Path:
    """Write ``task_context`` (and the control plane to reach) for :func:`load_interactive_ctx`.

    Returns:
        The file written (default ``<cwd>/.flyte/run_context.json``).
    """
    action = task_context.action
    document = {
        "action": {
            "name": action.name,
            "run_name": action.run_name,
            "project": action.project,
            "domain": action.domain,
            "org": action.org,
        },
        "version": task_context.version,
        "output_path": task_context.output_path,
        "run_base_dir": task_context.run_base_dir,
        "raw_data_path": task_context.raw_data_path.path,
        "input_path": task_context.input_path,
        "mode": task_context.mode,
        "attempt_number": task_context.attempt_number,
        "custom_context": dict(task_context.custom_context),
        "task_name": task_context.task_name,
        "endpoint": endpoint,
        "insecure": insecure,
    }
    target = pathlib.Path(path) if path is not None else pathlib.Path.cwd() / DEFAULT_CONTEXT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return target


def _required(document: dict[str, Any], key: str, where: pathlib.Path) -> Any:
    value = document.get(key)
    if value in (None, ""):
        raise ValueError(f"{where} has no {key!r}; it is not a task context file")
    return value


def load_interactive_ctx(path: str | os.PathLike[str] | None = None) -> TaskContext:
    """Restore a task's context from the file its debug-mode run wrote, and make it current.

    Afterwards ``flyte.ctx()`` returns it (outside any running task), and the SDK is initialised
    against the control plane the task ran on, when the file names one.

    Args:
        path: the context file; default ``<cwd>/.flyte/run_context.json``.

    Returns:
        The restored context.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not JSON, or misses a required field.

    Example:
        >>> tctx = flyte.load_interactive_ctx()  # doctest: +SKIP
        >>> flyte.ctx().action.name  # doctest: +SKIP
        'a0'
    """
    from flyte._context import set_interactive_context

    file = pathlib.Path(path) if path is not None else pathlib.Path.cwd() / DEFAULT_CONTEXT_FILE
    if not file.is_file():
        raise FileNotFoundError(f"No task context file at {file}; run the task in debug mode first")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{file} is not valid JSON: {e}") from e
    if not isinstance(document, dict) or not isinstance(document.get("action"), dict):
        raise ValueError(f"{file} has no 'action' object; it is not a task context file")
    action_doc = document["action"]
    action = ActionID(
        name=_required(action_doc, "name", file),
        run_name=action_doc.get("run_name"),
        project=action_doc.get("project"),
        domain=action_doc.get("domain"),
        org=action_doc.get("org"),
    )
    from flyte.report import Report

    output_path = _required(document, "output_path", file)
    task_context = TaskContext(
        action=action,
        version=_required(document, "version", file),
        raw_data_path=RawDataPath(document.get("raw_data_path") or output_path),
        output_path=output_path,
        run_base_dir=document.get("run_base_dir") or "",
        report=Report(name=action.name),
        mode=document.get("mode") or "remote",
        attempt_number=int(document.get("attempt_number") or 0),
        custom_context=dict(document.get("custom_context") or {}),
        task_name=document.get("task_name") or "",
        input_path=document.get("input_path"),
        interactive_mode=True,
    )
    endpoint = document.get("endpoint")
    if endpoint:
        from flyte._initialize import init

        init(
            endpoint=endpoint,
            insecure=bool(document.get("insecure")),
            org=action.org,
            project=action.project,
            domain=action.domain,
        )
    set_interactive_context(task_context)
    return task_context
