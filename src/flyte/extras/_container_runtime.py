"""What runs in front of a ContainerTask's command inside its container (Flyte's "copilot" role).

``python -m flyte.extras._container_runtime --inputs URI --outputs-path PREFIX --interface B64
--input-dir DIR --output-dir DIR -- COMMAND...``: reads the action's inputs, writes each as a file
``DIR/<name>`` (primitives as text, a File downloaded, a Dir downloaded into a directory) plus
``inputs.json`` (the primitive values by name), replaces ``{{.inputs.<name>}}`` in the command by
the value (a File or Dir: its local path), runs the command (its output goes to the attempt's
log), then reads each declared output from ``OUTPUT_DIR/<name>`` and writes ``outputs.pb``. A
failing command, or a missing or unreadable output, writes ``error.pb`` (a user error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

_INPUT_TEMPLATE = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ContainerTaskError(RuntimeError):
    """The command failed or did not produce its outputs (a user error)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flyte.extras._container_runtime")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--outputs-path", required=True)
    parser.add_argument("--raw-data-path", default="")
    parser.add_argument("--interface", required=True, help="base64 of the TypedInterface")
    parser.add_argument("--input-dir", default="/var/inputs")
    parser.add_argument("--output-dir", default="/var/outputs")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _write_inputs(interface: Any, inputs_uri: str, input_dir: Path) -> dict[str, str]:
    """Each input as a file; returns what ``{{.inputs.<name>}}`` stands for."""
    from flyteidl2.task import common_pb2

    from flyte._internal.runtime import storage
    from flyte._internal.serde import inputs_from_proto
    from flyte.io import Dir, File
    from flyte.types import TypeEngine

    input_dir.mkdir(parents=True, exist_ok=True)
    literals: dict[str, Any] = {}
    if interface.inputs.variables:
        literals, _ = inputs_from_proto(common_pb2.Inputs.FromString(await storage.read_bytes(inputs_uri)))
    values: dict[str, str] = {}
    document: dict[str, Any] = {}
    for entry in interface.inputs.variables:
        name, variable = entry.key, entry.value
        if name not in literals:
            continue
        python_type = TypeEngine.guess_python_type(variable.type)
        value = await TypeEngine.to_python_value(literals[name], python_type)
        target = input_dir / name
        if isinstance(value, File):
            await storage.download(value.path, target)
            values[name] = str(target)
        elif isinstance(value, Dir):
            await value.download(str(target))
            values[name] = str(target)
        else:
            target.write_text(_text(value))
            values[name] = _text(value)
            document[name] = value if isinstance(value, (int, float, str, bool)) else _text(value)
    (input_dir / "inputs.json").write_text(json.dumps(document))
    return values


async def _read_outputs(interface: Any, output_dir: Path, raw_prefix: str) -> dict[str, Any]:
    from flyte._internal.runtime import storage
    from flyte.io import Dir, File
    from flyte.types import TypeEngine

    literals: dict[str, Any] = {}
    for entry in interface.outputs.variables:
        name, variable = entry.key, entry.value
        path = output_dir / name
        python_type = TypeEngine.guess_python_type(variable.type)
        if not path.exists():
            raise ContainerTaskError(f"the command did not write its output {name!r} ({path})")
        if python_type is File or (isinstance(python_type, type) and issubclass(python_type, File)):
            remote = storage.join(raw_prefix, name)
            await storage.write_bytes(remote, path.read_bytes())
            value: Any = File(path=remote)
        elif python_type is Dir or (isinstance(python_type, type) and issubclass(python_type, Dir)):
            remote = storage.join(raw_prefix, name)
            for item in path.rglob("*"):
                if item.is_file():
                    await storage.write_bytes(storage.join(remote, str(item.relative_to(path))), item.read_bytes())
            value = Dir(path=remote)
        else:
            text = path.read_text().strip()
            try:
                if python_type is bool:
                    if text.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(text)
                    value = text.lower() in ("true", "1")
                elif python_type in (int, float):
                    value = python_type(text)
                elif python_type is str:
                    value = path.read_text().rstrip("\n")
                else:
                    value = json.loads(text)
            except ValueError as error:
                raise ContainerTaskError(f"output {name!r} is not a {python_type!r}: {text[:100]!r}") from error
        literals[name] = await TypeEngine.to_literal(value, python_type, variable.type)
    return literals


async def _run(options: argparse.Namespace) -> int:
    from flyteidl2.core import interface_pb2

    from flyte._internal.runtime import storage
    from flyte._internal.serde import outputs_to_proto

    interface = interface_pb2.TypedInterface.FromString(base64.b64decode(options.interface))
    command = list(options.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise ContainerTaskError("the ContainerTask has no command")
    if not (os.path.exists("/run/.containerenv") or os.path.exists("/.dockerenv")):
        raise ContainerTaskError(
            "a ContainerTask runs in its image: start the server with --executor podman (or docker)"
        )
    values = await _write_inputs(interface, options.inputs, Path(options.input_dir))
    Path(options.output_dir).mkdir(parents=True, exist_ok=True)

    def substitute(argument: str) -> str:
        return _INPUT_TEMPLATE.sub(lambda match: values.get(match.group(1), match.group(0)), argument)

    command = [substitute(argument) for argument in command]
    sys.stdout.flush()
    code = await asyncio.to_thread(subprocess.call, command)
    if code != 0:
        raise ContainerTaskError(f"the command {command[0]!r} exited with status {code}")
    literals = await _read_outputs(interface, Path(options.output_dir), options.raw_data_path or options.outputs_path)
    await storage.write_bytes(
        storage.join(options.outputs_path, "outputs.pb"), outputs_to_proto(literals).SerializeToString()
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(options))
    except Exception as error:
        from flyte._internal.runtime import storage
        from flyte._internal.serde import error_document_from_exception

        print(f"[flyte] ContainerTask failed: {error}", file=sys.stderr, flush=True)
        document = error_document_from_exception(error).SerializeToString()
        asyncio.run(storage.write_bytes(storage.join(options.outputs_path, "error.pb"), document))
        return 1


if __name__ == "__main__":
    sys.exit(main())
