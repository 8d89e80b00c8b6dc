"""A stand-in for a task process: ``python fake_task.py <output dir> <mode> [args]``.

The engine tests run it as the container command of their tasks, so they exercise the real
executor, files and outcome rules without the SDK. Modes:

* ``ok [value]``: write outputs.pb (an integer output ``o0``);
* ``fail <recoverable|fatal|system>``: write error.pb (exit 0, as the runtime does);
* ``exit <code>``: exit with that status and no files;
* ``sleep <seconds>``: sleep, then succeed;
* ``flaky <counter file> <failures>``: fail (recoverable) the first <failures> times, then succeed;
* ``count <counter file> [seconds]``: append to the file, sleep, then succeed;
* ``env <name>``: print the variable's value.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from flyteidl2.core import execution_pb2, literals_pb2
from flyteidl2.task import common_pb2


def outputs(value: int) -> bytes:
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))
    return common_pb2.Outputs(literals=[common_pb2.NamedLiteral(name="o0", value=literal)]).SerializeToString()


def error(kind: str, message: str) -> bytes:
    container = execution_pb2.ContainerError(
        code="ValueError",
        message=message,
        kind=execution_pb2.ContainerError.NON_RECOVERABLE
        if kind == "fatal"
        else execution_pb2.ContainerError.RECOVERABLE,
        origin=execution_pb2.ExecutionError.SYSTEM if kind == "system" else execution_pb2.ExecutionError.USER,
    )
    return execution_pb2.ErrorDocument(error=container).SerializeToString()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    mode, args = sys.argv[2], sys.argv[3:]
    print(f"fake task {mode} {args} attempt={os.environ.get('FLYTE_ATTEMPT_NUMBER')}", flush=True)
    if mode == "ok":
        (out / "outputs.pb").write_bytes(outputs(int(args[0]) if args else 1))
    elif mode == "fail":
        (out / "error.pb").write_bytes(error(args[0], f"failed on purpose ({args[0]})"))
    elif mode == "exit":
        sys.exit(int(args[0]))
    elif mode == "sleep":
        time.sleep(float(args[0]))
        (out / "outputs.pb").write_bytes(outputs(0))
    elif mode in ("flaky", "count"):
        counter = Path(args[0])
        count = len(counter.read_text()) if counter.exists() else 0
        with counter.open("a") as handle:
            handle.write("x")
        if mode == "count" and len(args) > 1:
            time.sleep(float(args[1]))
        if mode == "flaky" and count < int(args[1]):
            (out / "error.pb").write_bytes(error("recoverable", f"flaky failure {count + 1}"))
        else:
            (out / "outputs.pb").write_bytes(outputs(count + 1))
    elif mode == "env":
        (out / "outputs.pb").write_bytes(outputs(len(os.environ.get(args[0], ""))))
        print(f"ENV {args[0]}={os.environ.get(args[0], '')}", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
