"""Parameters on the wire (``fserve --parameters``: gzip + base64 of a JSON list) and deploy-time resolution."""

from __future__ import annotations

import base64
import gzip
import io
import json
from typing import Any

from flyte.app._types import Parameter, RunOutput, _DelayedValue

__all__ = ["decode_parameters", "encode_parameters", "materialize", "resolve_run_output"]


def encode_parameters(parameters: list[Parameter]) -> str:
    """The ``--parameters`` argument of ``fserve`` (the format PyPI flyte sends).

    Example:
        >>> decode_parameters(encode_parameters([Parameter(name="greeting", value="hi")]))[0]["value"]
        'hi'
    """
    items = [
        {
            "name": p.name,
            "value": p.string_value() or "",
            "download": p.effective_download(),
            "type": p.effective_type(),
            "env_var": p.env_var,
            "dest": p.mount,
            "ignore_patterns": list(p.ignore_patterns),
        }
        for p in parameters
    ]
    raw = json.dumps({"parameters": items}, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    # GzipFile (not gzip.compress, whose header names this OS) writes the header PyPI flyte's does.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as stream:
        stream.write(raw)
    return base64.b64encode(buffer.getvalue()).decode()


def decode_parameters(text: str) -> list[dict[str, Any]]:
    """The parameter list of ``--parameters``.

    Raises:
        ValueError: the text is not such a list.
    """
    try:
        data = json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
        items = data["parameters"]
    except (ValueError, OSError, KeyError, TypeError) as e:
        raise ValueError(f"--parameters is not a gzip+base64 JSON parameter list: {e}") from e
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise ValueError("--parameters must hold a list of named parameters")
    return items


async def materialize(parameters: list[Parameter], overrides: dict[str, Any] | None = None) -> list[Parameter]:
    """``parameters`` with delayed values (run outputs, app endpoints) resolved and overrides applied."""
    result = []
    for p in parameters:
        value = (overrides or {}).get(p.name, p.value)
        if isinstance(value, _DelayedValue):
            value = await value.get()
        result.append(
            Parameter(
                name=p.name,
                value=value,
                type=p.type,
                env_var=p.env_var,
                download=p.download,
                mount=p.mount,
                ignore_patterns=list(p.ignore_patterns),
            )
        )
    return result


async def resolve_run_output(spec: RunOutput) -> str:
    """The value ``spec`` names: an output of the named run, or of the task's latest succeeded run.

    ``getter`` walks the outputs: the first item picks an output (by position or name), further
    items index into it (a dict key, an attribute, a list index). Files and directories give their URI.

    Raises:
        flyte.errors.DeploymentError: there is no such run or output.
    """
    import flyte.remote as remote
    from flyte.errors import BaseRuntimeError, DeploymentError, NotFoundError

    try:
        if spec.run_name is not None:
            run = await remote.Run.get.aio(spec.run_name)
        else:
            runs = await remote.Run.listall.aio(
                in_phase=("succeeded",), task_name=spec.task_name, task_version=spec.task_version, limit=1
            )
            if not runs:
                raise DeploymentError(f"RunOutput: task {spec.task_name!r} has no succeeded run")
            run = runs[0]
        outputs: Any = await run.outputs.aio()
    except (NotFoundError, BaseRuntimeError) as e:
        raise DeploymentError(f"RunOutput: {e}") from e
    value: Any = outputs
    for key in spec.getter:
        try:
            if isinstance(key, str) and not isinstance(value, dict) and hasattr(value, key):
                value = getattr(value, key)
            else:
                value = value[key]
        except (KeyError, IndexError, TypeError) as e:
            raise DeploymentError(f"RunOutput: run {run.name!r} has no output at {spec.getter!r}") from e
    path = getattr(value, "path", None)
    return str(path) if path is not None and not isinstance(value, str) else str(value)
