"""Control-plane throughput: ``flyte start server`` running nested actions, with each worker runtime.

Starts its own server (SQLite + local blobs in a temporary directory) and drives it with the PyPI
``flyte==2.12.1`` client, once per worker runtime: ours (this environment's ``a0``: attempts run
inside reused warm workers) and PyPI's (the reference venv's ``a0``: one forked process per attempt).

  (a) a sequential chain of N trivial child actions (default 100): milliseconds per action,
      from the parent's point of view (enqueue → launch → run → outputs back), target ≤ 20 ms;
  (b) a fan-out of M trivial children in one run (default 1000): actions per second, target ≥ 300;
  (c) the server's RSS after K finished actions (default 20,000, in fan-outs of M), printed every
      quarter so that growth shows: target ≤ 300 MB and flat. (Our runtime only: the reference
      runtime needs many minutes for 20,000 actions.)

(a) and (b) are timed inside the parent task, so they exclude the client and the parent's own
start-up. A warm-up run first lets the warm workers learn what to preload. CPU seconds per action
are printed for the server and for its worker processes.

Usage: python bench/server_throughput.py [--chain 100] [--fan-out 1000] [--total 20000] [--workers 32]
                                        [--runtime ours|pypi|both] [--cold] [--repeat 3] [--auth]
(a) and (b) are each run ``--repeat`` times and the median is printed with the range: on a shared
2-core machine one run can be 20% off.
(``--cold`` turns the warm workers off: every attempt is a new Python process.)
``--executor ray`` runs our runtime with ``flyte start server --executor ray`` on a one-node Ray
cluster it starts inside a loopback-only network namespace (root; server and client run there too),
target (b) ≥ 300 actions/s; worker CPU is then that of the Ray runner processes.
``--db postgres`` puts the server on a fresh PostgreSQL database (127.0.0.1:5432, dropped after; no
manual ANALYZE), so (c) is the RSS after 20,000 actions on PostgreSQL.
``--replicas 2`` measures fan-out actions/s with one replica and with two on one fresh PostgreSQL
database (same storage and secret key; our runtime): one run alone, and two runs at once (both on one
replica, then one on each).
``--auth`` runs our runtime twice, without and with ``flyte start server --auth`` (client: this
SDK with an API key; tasks use their run's token), and measures the auth gate's CPU per request.
"""

from __future__ import annotations

import os
import sys

# bench/ holds a module named ``types``: keep this directory off sys.path so it cannot shadow the
# standard library, and load the shared helper by path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _load_helper(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference_python = _load_helper("_reference").reference_python
_server = _load_helper("_server")

WORKFLOW = """
import asyncio
import time

import flyte

env = flyte.TaskEnvironment(name="bench")


@env.task
async def noop(x: int) -> int:
    return x + 1


@env.task
async def chain(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        await noop(i)
    return time.perf_counter() - started


@env.task
async def fan_out(n: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(noop(i) for i in range(n)))
    return time.perf_counter() - started


@env.task
async def fan_out_span(n: int, at: float = 0.0) -> list[float]:
    # Begins at ``at`` (epoch seconds: concurrent runs start together); returns its start and end on the
    # machine's monotonic clock (comparable across processes).
    await asyncio.sleep(max(0.0, at - time.time()))
    started = time.monotonic()
    await asyncio.gather(*(noop(i) for i in range(n)))
    return [started, time.monotonic()]
"""

DRIVER = """
import json, os, sys, time
import flyte
import bench_wf

endpoint, task, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = {"at": float(sys.argv[4])} if len(sys.argv) > 4 else {}
if os.environ.get("FLYTE_API_KEY"):
    flyte.init_from_api_key(project="flytesnacks", domain="development")
else:
    flyte.init(endpoint=endpoint, insecure=True, project="flytesnacks", domain="development")
started = time.perf_counter()
run = flyte.run(getattr(bench_wf, task), n=n, **extra)
run.wait(quiet=True)
total = time.perf_counter() - started
print("RESULT " + json.dumps({"phase": str(run.phase), "inner": run.outputs()[0], "total": total}), flush=True)
"""

SECRET_KEY = "0" * 64
"""The replicas' shared ``--secret-key`` (a bench on loopback: a fixed one)."""


def _fresh_postgres(label: str) -> str:
    """A new, empty PostgreSQL database on 127.0.0.1:5432 (no manual ANALYZE); its URL."""
    name = f"bench_{label}_{os.getpid()}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", name], check=False)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


RAY_RUNNERS = Path(tempfile.gettempdir()) / "flyte-ray-runners"
"""Where the Ray executor's runners work when not in their node's session directory (``.../flyte-runners/``)."""


def _worker_cpu_seconds(data_dir: Path) -> float:
    """CPU time of the live worker processes of a server (working directory under its data dir, or Ray runners)."""
    total = 0.0
    prefix = str(data_dir.resolve()) + os.sep
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            if cwd.startswith((prefix, str(RAY_RUNNERS) + os.sep)) or "/flyte-runners/" in cwd:
                total += _cpu_seconds(int(entry))
        except OSError:
            continue
    return total


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _run(
    python: str,
    project: Path,
    port: int,
    task: str,
    n: int,
    home: Path,
    api_key: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "FLYTE_API_KEY")}
    env["HOME"] = str(home)
    if api_key:
        env["FLYTE_API_KEY"] = api_key
    result = subprocess.run(
        [python, "driver.py", f"127.0.0.1:{port}", task, str(n), *([] if at is None else [repr(at)])],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"{task}({n}) failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return parsed


def _measure(
    args: argparse.Namespace, client_python: str, worker_python: str, label: str, *, auth: bool = False
) -> None:
    root = Path(tempfile.mkdtemp(prefix="flyte-server-bench-"))
    project = root / "project"
    project.mkdir()
    (project / "bench_wf.py").write_text(WORKFLOW)
    (project / "driver.py").write_text(DRIVER)
    ray = _RayCluster(root) if args.executor == "ray" else None
    if ray is not None:
        client_python = ray.wrap(client_python)
    db_url = _fresh_postgres("one") if args.db == "postgres" else None
    server, port = _server.start_server(
        root,
        worker_python,
        args.workers,
        env={"FLYTE_SERVER_WARM_WORKERS": "0" if args.cold else "1", **(ray.env if ray else {})},
        args=(["--auth"] if auth else []) + (ray.server_args if ray else []) + (["--db", db_url] if db_url else []),
        port=ray.port if ray else None,
        prefix=ray.prefix if ray else (),
    )
    data = root / "data"
    api_key = (data / "admin-api-key").read_text().strip() if auth else None
    homes = iter(range(100000))
    rss: list[tuple[int, float]] = []

    def timed(task: str, n: int) -> dict[str, float]:
        server_cpu, worker_cpu = _cpu_seconds(server.pid), _worker_cpu_seconds(data)
        result = _run(client_python, project, port, task, n, root / f"home-{next(homes)}", api_key)
        result["server_cpu"] = (_cpu_seconds(server.pid) - server_cpu) * 1000 / n
        result["worker_cpu"] = (_worker_cpu_seconds(data) - worker_cpu) * 1000 / n
        return result

    try:
        _run(client_python, project, port, "chain", 10, root / f"home-{next(homes)}", api_key)  # warm-up
        _run(client_python, project, port, "fan_out", 20, root / f"home-{next(homes)}", api_key)
        chain = _median_run([timed("chain", args.chain) for _ in range(args.repeat)])
        fan = _median_run([timed("fan_out", args.fan_out) for _ in range(args.repeat)])
        if args.total and label == "ours":
            done = args.chain + args.fan_out + 30
            rss.append((done, _rss_mb(server.pid)))
            step = max(args.total // 4, args.fan_out)
            mark = step
            while done < args.total:
                _run(client_python, project, port, "fan_out", args.fan_out, root / f"home-{next(homes)}", api_key)
                done += args.fan_out + 1
                if done >= mark or done >= args.total:
                    rss.append((done, _rss_mb(server.pid)))
                    mark += step
    finally:
        _server.stop_server(server)
        if ray is not None:
            ray.stop()
        if db_url is not None:
            _drop_postgres(db_url)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    mode = "cold processes" if args.cold else "warm workers"
    if ray is not None:
        mode = "--executor ray, one-node Ray cluster"
    if db_url is not None:
        mode += ", PostgreSQL (fresh database)"
    client = "this SDK" if client_python == sys.executable else "PyPI flyte 2.12.1"
    security = ", --auth (API key, task tokens)" if auth else ""
    print(f"flyte start server ({mode}, --workers {args.workers}{security}), client: {client}, runtime: {label}")
    runs = f"median of {args.repeat} runs" if args.repeat > 1 else "one run"
    per_action = [inner * 1000 / args.chain for inner in chain["all_inner"]]
    print(
        f"  (a) chain of {args.chain} child actions: {chain['inner'] * 1000 / args.chain:.1f} ms per action "
        f"({runs}: {min(per_action):.1f} to {max(per_action):.1f}; whole run {chain['total']:.1f} s; "
        f"CPU per action: server {chain['server_cpu']:.1f} ms, workers {chain['worker_cpu']:.1f} ms)"
    )
    rates = [args.fan_out / inner for inner in fan["all_inner"]]
    print(
        f"  (b) fan-out of {args.fan_out} children: {args.fan_out / fan['inner']:.0f} actions/s "
        f"({runs}: {min(rates):.0f} to {max(rates):.0f}; {fan['inner']:.1f} s; whole run {fan['total']:.1f} s; "
        f"CPU per action: server {fan['server_cpu']:.1f} ms, workers {fan['worker_cpu']:.1f} ms)"
    )
    if rss:
        trend = ", ".join(f"{mb:.0f} MB after {count:,}" for count, mb in rss)
        print(f"  (c) server RSS by finished actions: {trend}")


class _RayCluster:
    """A one-node Ray cluster in a loopback-only namespace of its own, and a relay to the server's port.

    Uses the test infrastructure (``tests/infra``): ``ray start --block`` stopped by pid, never ``ray stop``.
    """

    def __init__(self, root: Path) -> None:
        netns = _load_path("_bench_netns", Path(_HERE).parent / "tests" / "infra" / "netns.py")
        cluster_module = _load_path("_bench_ray_cluster", Path(_HERE).parent / "tests" / "infra" / "ray_cluster.py")
        reason = netns.netns_unavailable_reason()
        if reason:
            raise SystemExit(f"--executor ray: {reason}")
        self._netns_module = netns
        self.netns = netns.ensure_netns(f"flyte-bench-{os.getpid()}")
        self.cluster = cluster_module.RayCluster(self.netns)
        self.cluster.start_head(num_cpus=2)
        self.cluster.wait_for_nodes(1)
        self.port, self._relay = cluster_module.mirrored_port(self.netns)
        self.root = root
        self.env = dict(cluster_module.RAY_ENV)
        self.server_args = ["--executor", "ray", "--ray-address", self.cluster.address]
        self.prefix = self.cluster.prefix

    def wrap(self, python: str) -> str:
        """An executable that runs ``python`` inside the namespace (for the client)."""
        wrapper = self.root / "netns-python"
        wrapper.write_text(f'#!/bin/sh\nexec {" ".join(self.prefix)} {python} "$@"\n')
        wrapper.chmod(0o755)
        return str(wrapper)

    def stop(self) -> None:
        self._relay.terminate()
        self._relay.wait()
        self.cluster.stop()
        self._netns_module.delete_netns(self.netns)


def _load_path(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _gate_cost(requests: int = 200_000) -> None:
    """CPU per request of the auth gate alone, in process: a known (cached) token, an RPC that needs ``write``."""
    import asyncio
    import time

    from flyte_server.auth.gate import AuthGate, HostPolicy
    from flyte_server.auth.principal import Principal
    from flyte_server.auth.tokens import TokenAuthority

    authority = TokenAuthority(os.urandom(32))
    token, _ = authority.issue(Principal(subject="apikey:bench", role="user", key_id="bench"), ttl_s=3600)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    async def key_exists(name: str) -> bool:
        return True

    gate = AuthGate(app, hosts=HostPolicy(), authority=authority, key_exists=key_exists)
    scope = {
        "type": "http",
        "path": "/flyteidl2.workflow.QueueService/EnqueueAction",
        "headers": [
            (b"host", b"127.0.0.1:8090"),
            (b"content-type", b"application/proto"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    }

    async def baseline() -> None:
        for _ in range(requests):
            await app(dict(scope), None, None)

    async def gated() -> None:
        for _ in range(requests):
            await gate(dict(scope), None, None)  # type: ignore[arg-type]

    def cpu(run: Any) -> float:
        started = time.process_time()
        asyncio.run(run())
        return time.process_time() - started

    fresh = [
        authority.issue(Principal(subject=f"apikey:k{i}", role="user", key_id=f"k{i}"), ttl_s=3600)[0]
        for i in range(2000)
    ]
    first = time.process_time()
    for each in fresh:
        authority.verify(each)
    uncached = (time.process_time() - first) / len(fresh) * 1e6
    cost = (cpu(gated) - cpu(baseline)) / requests * 1e6
    print(
        f"  auth gate: {cost:.1f} µs CPU per request with a known token (target ≤ 200 µs); "
        f"first use of a token (signature check): {uncached:.0f} µs"
    )


def _measure_replicas(args: argparse.Namespace, client_python: str) -> None:
    """Fan-out actions/s with one replica and with two on one fresh PostgreSQL database (our runtime).

    Runs are driven by the replica that created them, so replicas add throughput across runs: the
    figure that matters is two runs at once, both on one replica vs one on each. A single run's
    rate is printed too (one replica alone, then with a second replica listening on the database).
    """
    import threading
    import time

    root = Path(tempfile.mkdtemp(prefix="flyte-replicas-bench-"))
    project = root / "project"
    project.mkdir()
    (project / "bench_wf.py").write_text(WORKFLOW)
    (project / "driver.py").write_text(DRIVER)
    storage = root / "blobs"
    storage.mkdir()
    db_url = _fresh_postgres("replicas")
    options = ["--db", db_url, "--storage", str(storage)]
    env = {"FLYTE_SERVER_SECRET_KEY": SECRET_KEY}
    homes = iter(range(100000))
    servers: list[Any] = []
    n = args.fan_out

    def start(name: str) -> int:
        (root / name).mkdir()
        server, port = _server.start_server(root / name, sys.executable, args.workers, env=env, args=options)
        servers.append(server)
        _run(client_python, project, port, "fan_out", 20, root / f"home-{next(homes)}")  # warm-up
        return port

    def together(ports: list[int]) -> float:
        """Actions/s of one fan-out of n per port, all beginning at the same moment."""
        spans: list[list[float]] = []
        at = time.time() + 10.0

        def one(port: int) -> None:
            spans.append(
                _run(client_python, project, port, "fan_out_span", n, root / f"home-{next(homes)}", at=at)["inner"]
            )

        threads = [threading.Thread(target=one, args=(port,)) for port in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(spans) != len(ports):
            raise SystemExit("a fan-out failed (see above)")
        return n * len(ports) / (max(end for _, end in spans) - min(begin for begin, _ in spans))

    def median(rates: list[float]) -> str:
        ordered = sorted(rates)
        return f"{ordered[len(ordered) // 2]:.0f} actions/s ({min(rates):.0f} to {max(rates):.0f})"

    try:
        a = start("a")
        one_single = [together([a]) for _ in range(args.repeat)]
        one_pair = [together([a, a]) for _ in range(args.repeat)]
        b = start("b")
        two_single = [together([a]) for _ in range(args.repeat)]
        two_pair = [together([a, b]) for _ in range(args.repeat)]
    finally:
        for server in servers:
            _server.stop_server(server)
        _drop_postgres(db_url)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    runs = f"median of {args.repeat} runs" if args.repeat > 1 else "one run"
    print(f"replicas on one PostgreSQL (fresh database, --workers {args.workers} each, our runtime), {runs}:")
    print(f"  one fan-out of {n}:  one replica {median(one_single)}; with a second replica up {median(two_single)}")
    print(
        f"  two fan-outs of {n} at once: both on one replica {median(one_pair)}; "
        f"one on each of two replicas {median(two_pair)}"
    )


def _median_run(results: list[dict[str, float]]) -> dict[str, Any]:
    """The run with the median inner time, plus every run's inner time (``all_inner``)."""
    ordered = sorted(results, key=lambda result: result["inner"])
    median: dict[str, Any] = dict(ordered[len(ordered) // 2])
    median["all_inner"] = [result["inner"] for result in results]
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--fan-out", type=int, default=1000)
    parser.add_argument("--total", type=int, default=20000, help="finished actions for the RSS figure (0: skip)")
    parser.add_argument("--workers", type=int, default=32, help="the server's --workers (its default)")
    parser.add_argument("--runtime", choices=["ours", "pypi", "both"], default="both")
    parser.add_argument("--cold", action="store_true", help="no warm workers: a new process per attempt")
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="ray: our runtime on a Ray cluster started for the run (needs root; implies --runtime ours)",
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="postgres: a fresh database on 127.0.0.1:5432 (createdb; dropped after), no manual ANALYZE",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        choices=[1, 2],
        default=1,
        help="2: fan-out actions/s with one replica, then two, on one fresh PostgreSQL (implies --db postgres)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) and (b); the median is printed")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="our runtime without and with --auth (client: this SDK, which authenticates over plain HTTP), "
        "plus the auth gate's CPU per request",
    )
    args = parser.parse_args()
    if args.auth:
        _measure(args, sys.executable, sys.executable, "ours")
        _measure(args, sys.executable, sys.executable, "ours", auth=True)
        _gate_cost()
        return
    python = reference_python()
    if python is None:
        raise SystemExit("no reference venv with flyte==2.12.1 (set FLYTE_REFERENCE_PYTHON)")
    if args.replicas == 2:
        _measure_replicas(args, python)
        return
    if args.executor == "ray":  # runners run this environment's runtime on the Ray nodes
        _measure(args, python, sys.executable, "ours")
        return
    if args.runtime in ("ours", "both"):
        _measure(args, python, sys.executable, "ours")
    if args.runtime in ("pypi", "both"):
        _measure(args, python, python, "PyPI flyte 2.12.1")


if __name__ == "__main__":
    main()
