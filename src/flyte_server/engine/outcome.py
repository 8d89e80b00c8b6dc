"""Deciding how an attempt ended, from the files it left and its exit status.

The runtime exits 0 whether the task succeeded or failed, so the files decide: ``error.pb`` first
(a RECOVERABLE error is retried against the task's retry budget, or the system budget when its
origin is SYSTEM; NON_RECOVERABLE never is), then ``outputs.pb``. No files means a system failure:
a crash, a signal, a non-zero exit, or a worker that vanished.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from flyteidl2.core import execution_pb2
from flyteidl2.workflow import run_definition_pb2
from google.protobuf.message import DecodeError

from flyte._internal.parking import PARKED_FILE
from flyte_server.engine.data import DataAccess
from flyte_server.engine.model import ActionState, error_info
from flyte_server.isolation import open_worker_file

__all__ = ["Outcome", "classify", "log_tail", "storage_full"]

_LOG_TAIL_LINES = 20


@dataclass
class Outcome:
    """How one attempt ended."""

    succeeded: bool
    output_uri: str = ""
    report_uri: str = ""
    outputs: bytes | None = None
    error: run_definition_pb2.ErrorInfo | None = None
    retry: str | None = None
    """``"user"`` or ``"system"`` when the failure may be retried (budget permitting)."""
    parked: Parking | None = None
    """The attempt parked: it waits for these conditions or this time, holding no process."""


@dataclass
class Parking:
    """What a parked attempt waits for (its ``parked.json``)."""

    conditions: tuple[str, ...] = ()
    wake_us: int = 0

    @classmethod
    def parse(cls, data: bytes) -> Parking | None:
        """The document the runtime wrote, or ``None`` when it is not one."""
        try:
            document = json.loads(data)
            conditions = tuple(str(name) for name in document.get("conditions") or ())
            wake_at = float(document.get("wake_at") or 0)
        except (ValueError, TypeError, AttributeError):
            return None
        if not conditions and wake_at <= 0:
            return None
        return cls(conditions=conditions, wake_us=int(wake_at * 1e6))


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a log file ("" when there is none)."""
    try:
        with open_worker_file(path) as handle:  # the worker's own file: no symlinks, FIFOs or devices
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _exit_text(code: int | None) -> str:
    if code is None:
        return "the worker process went away"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    if code == 0:
        return "the worker process exited without writing outputs"
    return f"the worker process exited with status {code}"


def _from_error_document(document: execution_pb2.ErrorDocument) -> tuple[run_definition_pb2.ErrorInfo, str | None]:
    error = document.error
    system = error.origin == execution_pb2.ExecutionError.SYSTEM
    info = error_info(error.code or "UnknownError", error.message, system=system)
    if error.kind == execution_pb2.ContainerError.NON_RECOVERABLE:
        return info, None
    return info, "system" if system else "user"


async def classify(data: DataAccess, a: ActionState, *, exit_code: int | None, log_path: Path) -> Outcome:
    """Read the attempt's output directory and decide its outcome."""
    output_dir = a.output_dir()
    error_bytes, outputs, has_report = await data.attempt_files(output_dir)
    if error_bytes is not None:
        try:
            document = execution_pb2.ErrorDocument.FromString(error_bytes)
        except DecodeError:
            return Outcome(
                succeeded=False,
                error=error_info("CorruptErrorDocument", f"{output_dir}/error.pb cannot be read", system=True),
                retry="system",
            )
        info, retry = _from_error_document(document)
        return Outcome(succeeded=False, error=info, retry=retry)
    report_uri = f"{output_dir}/report.html" if has_report else ""
    if outputs is not None:
        return Outcome(succeeded=True, output_uri=output_dir, outputs=outputs, report_uri=report_uri)
    parked_bytes = await data.read(f"{output_dir}/{PARKED_FILE}")
    parked = Parking.parse(parked_bytes) if parked_bytes is not None else None
    if parked is not None:
        return Outcome(succeeded=False, parked=parked)
    template = a.template
    declares_outputs = template is not None and len(template.interface.outputs.variables) > 0
    if exit_code == 0 and not declares_outputs and a.spec is not None and template is not None:
        if template.HasField("container") and not _runs_runtime(template):
            return Outcome(succeeded=True, output_uri=output_dir, report_uri=report_uri)
    message = _exit_text(exit_code)
    tail = log_tail(log_path)
    if tail:
        message += f"; the end of its log ({log_path}):\n{tail}"
    if "No space left on device" in tail or storage_full(log_path.parent):
        message = (
            "no space left on the device that holds the server's data: "
            f"the attempt's outcome could not be kept ({message})"
        )
        return Outcome(succeeded=False, error=error_info("StorageFull", message, system=True), retry="system")
    return Outcome(succeeded=False, error=error_info("SystemFailure", message, system=True), retry="system")


def storage_full(path: Path, reserve: int = 64 * 1024) -> bool:
    """Whether the filesystem holding ``path`` (or its nearest existing parent) has less than ``reserve`` bytes free."""
    for candidate in (path, *path.parents):
        try:
            stats = os.statvfs(candidate)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize < reserve
    return False


def _runs_runtime(template: object) -> bool:
    container = getattr(template, "container", None)
    arguments = [*getattr(container, "command", []), *getattr(container, "args", [])]
    return bool(arguments) and arguments[0] == "a0"
