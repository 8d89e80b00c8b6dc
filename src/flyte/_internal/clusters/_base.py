"""What every local cluster shares: resources, the processes, readiness, teardown by pid, logs.

A cluster here is a set of processes started for one task attempt (or one local-mode task call)
on this machine. Each process is a session leader whose output is relayed, one prefixed line at a
time, into one log file (the attempt's log on the server); teardown signals the processes *and*
every descendant found by pid (Ray's workers start sessions of their own), then SIGKILLs what is
left after a grace period.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

__all__ = [
    "ClusterError",
    "ClusterProcess",
    "ClusterSpecError",
    "LocalCluster",
    "NodeResources",
    "free_port",
    "parse_cpu",
    "parse_memory",
]


class ClusterError(RuntimeError):
    """A cluster process did not start, did not become ready in time, or exited while in use."""


class ClusterSpecError(ValueError):
    """A plugin task's cluster spec is malformed or asks for more than runs on one machine."""


_MEMORY_SUFFIXES = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_cpu(value: str | float | int) -> float:
    """A CPU quantity (``"2"``, ``"500m"``, ``1.5``) as a number of CPUs.

    Raises:
        ValueError: not a CPU quantity.
    """
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _QUANTITY.match(value)
        if match is None or match.group(2) not in ("", "m"):
            raise ValueError(f"not a CPU quantity: {value!r}")
        number = float(match.group(1)) / (1000 if match.group(2) == "m" else 1)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"not a CPU quantity: {value!r}")
    return number


def parse_memory(value: str | float | int) -> int:
    """A memory quantity (``"1Gi"``, ``"500M"``, ``"1e9"``, ``2048``) in bytes.

    Raises:
        ValueError: not a memory quantity.
    """
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _QUANTITY.match(value)
        if match is None or match.group(2) not in _MEMORY_SUFFIXES:
            raise ValueError(f"not a memory quantity: {value!r}")
        number = float(match.group(1)) * _MEMORY_SUFFIXES[match.group(2)]
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"not a memory quantity: {value!r}")
    return int(number)


@dataclass(frozen=True, kw_only=True)
class NodeResources:
    """What one cluster node (a Ray node, a Dask worker) offers; ``None`` means "not specified"."""

    cpu: float | None = None
    """CPUs (fractions allowed; nodes that need whole CPUs round up)."""
    memory: int | None = None
    """Memory in bytes."""
    gpu: int | None = None
    """GPUs."""

    @classmethod
    def from_flyte(cls, resources: Mapping[str, Any] | None) -> NodeResources:
        """From a ``flyteidl2.core.Resources`` as a JSON dict (``{"requests": [{"name": "CPU", ...}]}``).

        Limits win over requests (a node gets what it may use). Unknown names are ignored.
        """
        values: dict[str, str] = {}
        for kind in ("requests", "limits"):
            for entry in (resources or {}).get(kind) or []:
                if isinstance(entry, Mapping) and entry.get("value") not in (None, ""):
                    values[str(entry.get("name", "")).upper()] = str(entry["value"])
        return cls._from_values(values.get("CPU"), values.get("MEMORY"), values.get("GPU"))

    @classmethod
    def from_k8s(cls, requirements: Mapping[str, Any] | None) -> NodeResources:
        """From a Kubernetes container's ``resources`` (``{"requests": {"cpu": "1"}, "limits": {...}}``)."""
        values: dict[str, str] = {}
        for kind in ("requests", "limits"):
            section = (requirements or {}).get(kind) or {}
            if isinstance(section, Mapping):
                for name, value in section.items():
                    values[str(name)] = str(value)
        return cls._from_values(values.get("cpu"), values.get("memory"), values.get("nvidia.com/gpu"))

    @classmethod
    def _from_values(cls, cpu: str | None, memory: str | None, gpu: str | None) -> NodeResources:
        return cls(
            cpu=parse_cpu(cpu) if cpu else None,
            memory=parse_memory(memory) if memory else None,
            gpu=math.ceil(parse_cpu(gpu)) if gpu else None,
        )

    def or_else(self, other: NodeResources) -> NodeResources:
        """These resources, each unspecified one taken from ``other``."""
        return NodeResources(
            cpu=self.cpu if self.cpu is not None else other.cpu,
            memory=self.memory if self.memory is not None else other.memory,
            gpu=self.gpu if self.gpu is not None else other.gpu,
        )

    @property
    def whole_cpus(self) -> int | None:
        """CPUs rounded up to a whole number (at least one), ``None`` when unspecified."""
        return None if self.cpu is None else max(1, math.ceil(self.cpu))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _LogRelay:
    """Copies a process's output into the shared log, each line prefixed with the process's name."""

    def __init__(self, name: str, stream: IO[bytes], sink: IO[bytes], lock: threading.Lock) -> None:
        self.name = name
        self.recent: deque[str] = deque(maxlen=40)
        """The last lines, for error messages."""
        self.seen = threading.Condition()
        self._lines: list[str] = []
        self._stream = stream
        self._sink = sink
        self._lock = lock
        self._thread = threading.Thread(target=self._run, name=f"cluster-log-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        prefix = f"[{self.name}] ".encode()
        try:
            self._relay(prefix)
        except (OSError, ValueError):  # the pipe broke
            pass
        with self.seen:
            self.seen.notify_all()

    def _relay(self, prefix: bytes) -> None:
        for raw in iter(self._stream.readline, b""):
            text = raw.decode(errors="replace").rstrip("\n")
            with self.seen:
                self.recent.append(text)
                self._lines.append(text)
                self.seen.notify_all()
            with self._lock:
                try:
                    self._sink.write(prefix + raw if raw.endswith(b"\n") else prefix + raw + b"\n")
                    self._sink.flush()
                except (OSError, ValueError):  # the log was closed under us: keep draining the pipe
                    pass

    def wait_for(self, pattern: re.Pattern[str], deadline: float, alive: Callable[[], bool]) -> str | None:
        """The first line matching ``pattern`` (waiting until ``deadline``); ``None`` if none came."""
        checked = 0
        with self.seen:
            while True:
                for line in self._lines[checked:]:
                    if pattern.search(line):
                        return line
                checked = len(self._lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not alive() and not self._thread.is_alive()):
                    return None
                self.seen.wait(min(remaining, 0.2))

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the output's end, then close the pipe."""
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else a process that escaped still writes: closing would block
            self._stream.close()


@dataclass(eq=False)
class ClusterProcess:
    """One process of a cluster (a Ray node, a Dask scheduler or worker)."""

    name: str
    """Its role, e.g. ``ray-head``, ``ray-worker-gpu-1``, ``dask-scheduler``; prefixes its log lines."""
    popen: subprocess.Popen[bytes]
    relay: _LogRelay

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        """Its exit code once it has exited (negative: the signal), else ``None``."""
        return self.popen.poll()

    def running(self) -> bool:
        """Whether it has not exited yet."""
        return self.popen.poll() is None

    def recent_output(self) -> str:
        """Its last lines of output."""
        return "\n".join(self.relay.recent)


@dataclass(eq=False, kw_only=True)
class LocalCluster:
    """A running cluster: where it is, what a task needs to reach it, and how to stop it.

    Example:
        >>> with start_dask_cluster(spec, python=sys.executable, log=log) as cluster:  # doctest: +SKIP
        ...     run_task(env={**os.environ, **cluster.env})
    """

    kind: str
    """``ray``, ``dask`` or ``spark``."""
    address: str
    """Where the cluster is (``127.0.0.1:6379``, ``tcp://127.0.0.1:8786``, ``local[4]``)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables that make the task's ``ray.init()`` / ``Client()`` / ``SparkSession`` use it."""
    processes: list[ClusterProcess] = field(default_factory=list)
    """The processes started for it (none for a cluster the user runs, or for local Spark)."""
    scratch: list[Path] = field(default_factory=list)
    """Directories made for it, removed by :meth:`stop`."""
    _stopped: bool = False
    _known: set[int] = field(default_factory=set)

    def pids(self) -> list[int]:
        """The pids of its processes and of all their live descendants (and any seen before)."""
        pids = {process.pid for process in self.processes if process.exit_code() is None}
        for process in self.processes:
            pids.update(_descendants(process.pid))
        self._known.update(pids)
        return sorted(pids)

    def crashed(self) -> str | None:
        """A message naming the first process that exited while the cluster was in use, else ``None``."""
        if self._stopped:
            return None
        for process in self.processes:
            code = process.exit_code()
            if code is not None:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                tail = process.recent_output()[-1500:]
                return f"{self.kind} cluster process {process.name} (pid {process.pid}) {how}" + (
                    f"; its last output:\n{tail}" if tail else ""
                )
        return None

    def stop(self, grace: float = 5.0) -> None:
        """Stop every process (SIGTERM, then SIGKILL after ``grace`` seconds); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        victims = set(self.pids()) | self._known
        for process in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        _signal_all(victims, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(pid) for pid in victims):
            for process in self.processes:
                process.popen.poll()
            time.sleep(0.05)
        victims |= {pid for process in self.processes for pid in _descendants(process.pid)}
        for process in self.processes:
            _signal_group(process.pid, signal.SIGKILL)
        _signal_all(victims, signal.SIGKILL)
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(grace, 1.0))
            except subprocess.TimeoutExpired:
                pass
            process.relay.close(1.0)
        for directory in self.scratch:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _process_table() -> dict[int, tuple[int, str]]:
    """``pid -> (parent pid, state)`` of every process, from ``/proc`` (Linux)."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), fields[0].decode())
    return table


def _descendants(pid: int) -> set[int]:
    """The live descendants of ``pid``."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for child, (parent, state) in table.items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class ProcessStarter:
    """Starts a cluster's processes with one environment, one log and one set of Popen options."""

    def __init__(
        self,
        *,
        log: IO[bytes],
        env: Mapping[str, str],
        cwd: Path,
        popen_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.log = log
        self.env = dict(env)
        self.cwd = cwd
        self.popen_options = dict(popen_options or {})
        self.lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> ClusterProcess:
        """Start ``argv`` as a session leader whose output is relayed into the log.

        Raises:
            ClusterError: it could not be started.
        """
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=str(self.cwd),
                env={**self.env, **(env or {})},
                start_new_session=True,
                **self.popen_options,
            )
        except OSError as error:
            raise ClusterError(f"cannot start {name} ({argv[0]}): {error.strerror or error}") from error
        assert popen.stdout is not None
        return ClusterProcess(name=name, popen=popen, relay=_LogRelay(name, popen.stdout, self.log, self.lock))


def wait_ready(
    cluster: LocalCluster,
    readiness: Sequence[tuple[ClusterProcess, re.Pattern[str]]],
    *,
    timeout: float,
) -> None:
    """Wait until each process has printed its ready line; stop the cluster and raise if one does not.

    Raises:
        ClusterError: a process exited first, or the time ran out.
    """
    deadline = time.monotonic() + timeout
    for process, pattern in readiness:
        line = process.relay.wait_for(pattern, deadline, process.running)
        if line is None:
            crash = cluster.crashed()
            cluster.stop()
            if crash is not None:
                raise ClusterError(f"the {crash}")
            output = process.recent_output()[-1500:]
            raise ClusterError(
                f"{cluster.kind} cluster process {process.name} was not ready after {timeout:g} s"
                + (f"; its last output:\n{output}" if output else " (it printed nothing)")
            )
