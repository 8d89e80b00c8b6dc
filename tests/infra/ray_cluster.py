"""A real Ray cluster for tests: a head and worker nodes inside a loopback-only network namespace.

Every node is a ``ray start --block`` process under ``ip netns exec NAME`` with
``RAY_AUTH_MODE=disabled`` and ``RAY_USAGE_STATS_ENABLED=0``; each gets its own ports (free ones,
found inside the namespace) and the cluster its own temp directory, so it shares nothing with other
Ray clusters on the machine. It is stopped by pid — the ``ray start`` process and every process
below it — never with ``ray stop``, which would kill every Ray process on the machine.

Processes outside the namespace (the test process) reach a service inside it through
:func:`forward_port`, a loopback-to-loopback relay.

Example::

    cluster = RayCluster(netns="flyte-test-1", root=tmp / "ray")
    cluster.start_head(num_cpus=2)
    node2 = cluster.add_node(num_cpus=1, resources={"node2": 1})
    cluster.wait_for_nodes(2)
    ...  # ip netns exec flyte-test-1 python -c "import ray; ray.init(address=cluster.address)"
    cluster.kill_node(node2)  # SIGKILL: the node is lost, as when its machine goes away
    cluster.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RAY_ENV", "RayCluster", "RayNode", "descendants", "forward_port", "free_ports_in", "mirrored_port"]

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
"""What every Ray process of the tests runs with (drivers too)."""

_PORT_FLAGS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)
_WORKER_PORTS = 200
"""Ports reserved per node for its worker processes (``--min-worker-port``..``--max-worker-port``)."""

_FREE_PORTS_SCRIPT = """
import json, socket, sys
count, span = int(sys.argv[1]), int(sys.argv[2])
held, ports = [], []
for _ in range(count):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s); ports.append(s.getsockname()[1])
# A range of ``span`` ports that are all free now, away from the ephemeral ones just taken.
start = 20000
while True:
    trial = []
    try:
        for port in range(start, start + span):
            s = socket.socket(); s.bind(("127.0.0.1", port)); trial.append(s)
        break
    except OSError:
        start += span
    finally:
        for s in trial:
            s.close()
print(json.dumps({"ports": ports, "range": start}))
"""


def free_ports_in(netns: str, count: int, span: int = 0, base: int = 20000) -> tuple[list[int], int]:
    """``count`` free ports inside ``netns`` and the start of a free range of ``span`` ports."""
    script = _FREE_PORTS_SCRIPT.replace("start = 20000", f"start = {base}")
    out = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script, str(count), str(max(span, 1))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = json.loads(out)
    return list(found["ports"]), int(found["range"])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, ...), read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        with contextlib.suppress(IndexError, ValueError):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@dataclass
class RayNode:
    """One ``ray start --block`` process and what it started."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    tree: set[int] = field(default_factory=set)
    """Every pid seen below the node so far (its raylet, agents, workers)."""

    def refresh(self) -> None:
        self.tree.update(descendants(self.process.pid))

    def signal_all(self, sig: int) -> None:
        self.refresh()
        for pid in [self.process.pid, *sorted(self.tree)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def alive(self) -> list[int]:
        return [pid for pid in [self.process.pid, *sorted(self.tree)] if _alive(pid)]


class RayCluster:
    """A Ray cluster inside network namespace ``netns``; see the module docstring."""

    def __init__(self, netns: str, root: Path | None = None) -> None:
        self.netns = netns
        self._own_root = root is None
        # Ray puts Unix sockets under its temp dir: keep the path short (sun_path is 108 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="fray-", dir="/tmp")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.nodes: list[RayNode] = []
        self.port = 0
        self._next_range = 21000

    @property
    def prefix(self) -> list[str]:
        """The argv prefix of a command that runs inside the namespace."""
        return ["ip", "netns", "exec", self.netns]

    @property
    def address(self) -> str:
        """The GCS address (``ray.init(address=...)``, ``ray start --address``), valid inside the namespace."""
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def env(base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(RAY_ENV)
        env.pop("RAY_ADDRESS", None)
        return env

    def _ports(self) -> list[str]:
        ports, start = free_ports_in(self.netns, len(_PORT_FLAGS), _WORKER_PORTS, self._next_range)
        self._next_range = start + _WORKER_PORTS
        args = [item for flag, port in zip(_PORT_FLAGS, ports, strict=True) for item in (flag, str(port))]
        return [*args, "--min-worker-port", str(start), "--max-worker-port", str(start + _WORKER_PORTS - 1)]

    def _start(self, name: str, args: list[str]) -> RayNode:
        log_path = self.root / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    "-m",
                    "ray.scripts.scripts",
                    "start",
                    "--block",
                    "--disable-usage-stats",
                    "--node-ip-address",
                    "127.0.0.1",
                    "--temp-dir",
                    str(self.root / "tmp"),
                    *args,
                    *self._ports(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,
            )
        node = RayNode(name=name, process=process, log_path=log_path)
        self.nodes.append(node)
        return node

    def start_head(self, *, num_cpus: int = 2, object_store_bytes: int = 256 << 20) -> RayNode:
        """Start the head node (GCS on a free port); :meth:`wait_for_nodes` waits for it."""
        (self.port, client_port), _ = free_ports_in(self.netns, 2)
        return self._start(
            "head",
            [
                "--head",
                "--port",
                str(self.port),
                "--ray-client-server-port",
                str(client_port),
                "--include-dashboard",
                "false",
                "--num-cpus",
                str(num_cpus),
                "--object-store-memory",
                str(object_store_bytes),
            ],
        )

    def add_node(
        self, *, num_cpus: int = 1, resources: dict[str, float] | None = None, object_store_bytes: int = 128 << 20
    ) -> RayNode:
        """Start a worker node that joins the head, with its own ports."""
        args = [
            "--address",
            self.address,
            "--num-cpus",
            str(num_cpus),
            "--object-store-memory",
            str(object_store_bytes),
        ]
        if resources:
            args += ["--resources", json.dumps(resources)]
        return self._start(f"node{len(self.nodes) + 1}", args)

    def run_python(self, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` inside the namespace as a Ray driver of this cluster (``RAY_ADDRESS`` set)."""
        env = self.env()
        env["RAY_ADDRESS"] = self.address
        return subprocess.run(
            [*self.prefix, sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    def wait_for_nodes(self, count: int, timeout: float = 120) -> None:
        """Wait until ``count`` nodes are alive in the cluster.

        Raises:
            RuntimeError: a node process exited or the nodes did not join in time (with their logs).
        """
        code = (
            "import ray, sys, time\n"
            "deadline = time.monotonic() + float(sys.argv[2])\n"
            "ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False)\n"
            "while sum(1 for node in ray.nodes() if node['Alive']) < int(sys.argv[3]):\n"
            "    if time.monotonic() > deadline: sys.exit(3)\n"
            "    time.sleep(0.3)\n"
        )
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited:\n{self.log_tail(node)}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("the Ray nodes did not join:\n" + "\n".join(map(self.log_tail, self.nodes)))
            result = self.run_python(code, self.address, str(remaining), str(count), timeout=remaining + 30)
            if result.returncode == 0:
                for node in self.nodes:
                    node.refresh()
                return
            time.sleep(1.0)

    @staticmethod
    def log_tail(node: RayNode, lines: int = 30) -> str:
        try:
            return "\n".join(node.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill_node(self, node: RayNode) -> None:
        """SIGKILL a node and everything below it (its tasks and actors are lost)."""
        node.signal_all(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=10)
        if node in self.nodes:
            self.nodes.remove(node)

    def stop(self, grace: float = 10.0) -> None:
        """Stop every node by pid: SIGTERM, then SIGKILL what is left after ``grace``."""
        for node in reversed(self.nodes):
            node.refresh()
            with contextlib.suppress(ProcessLookupError):
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        while time.monotonic() < deadline and any(node.alive() for node in self.nodes):
            time.sleep(0.2)
        for node in self.nodes:
            node.signal_all(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=5)
        self.nodes.clear()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


_FORWARD_SCRIPT = r"""
import asyncio, ctypes, os, socket, sys
netns, target, local = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
listener = socket.socket()
try:
    listener.bind(("127.0.0.1", local))
except OSError as error:
    sys.exit(f"bind {local}: {error}")
listener.listen(128)
# Sockets made from now on belong to the namespace; the listener stays outside it.
fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
    sys.exit(f"setns: {os.strerror(ctypes.get_errno())}")
print(listener.getsockname()[1], flush=True)

async def pipe(reader, writer):
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

async def handle(reader, writer):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

async def main():
    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def forward_port(netns: str, port: int, local_port: int = 0) -> tuple[subprocess.Popen[bytes], int]:
    """Relay a loopback port of this namespace (``local_port``, 0: a free one) to ``127.0.0.1:port`` in ``netns``.

    Returns the relay process (terminate it when done) and the port to connect to here.

    Raises:
        RuntimeError: the relay could not start (``local_port`` taken here, no such namespace).
    """
    process = subprocess.Popen(
        [sys.executable, "-c", _FORWARD_SCRIPT, netns, str(port), str(local_port)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    with process.stdout:
        line = process.stdout.readline().strip()
    if not line.isdigit():
        process.kill()
        process.wait()
        raise RuntimeError(f"cannot relay into namespace {netns} (port {port})")
    return process, int(line)


def mirrored_port(netns: str, attempts: int = 20) -> tuple[int, subprocess.Popen[bytes]]:
    """A port free inside ``netns`` *and* here, relayed from here to there.

    A service bound to it inside the namespace has the same URL on both sides (signed URLs and
    endpoints it hands out work from the test process too). Returns the port and the relay.
    """
    for _ in range(attempts):
        (port,), _ = free_ports_in(netns, 1)
        try:
            relay, _ = forward_port(netns, port, local_port=port)
        except RuntimeError:
            continue
        return port, relay
    raise RuntimeError(f"no port free both here and in namespace {netns}")
