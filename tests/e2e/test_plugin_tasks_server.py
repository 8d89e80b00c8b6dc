"""Ray, Dask and Spark tasks of the PyPI plugins really run on ``flyte start server``, and frames travel between tasks.

One server at a time, inside a network namespace with only ``lo`` (Ray advertises the machine's
interfaces otherwise), for each of two stacks: PyPI flyte 2.12.1 with the five PyPI plugins as
client and runtime (the worker Python), and our SDK with the same PyPI plugins installed on top as
client and runtime. The client is ``plugin_programs/driver.py``, run inside the namespace too. Every
cluster process, like the task, carries ``FLYTE_CLUSTER_OF=<project>/<domain>/<run>/<action>/<attempt>``
in its environment: that is how the tests find them by pid, and check that they are gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reference import find_reference_plugins_python, reference_env

from .helpers import DOMAIN, PROJECT, ServerProcess

PROGRAMS = Path(__file__).parent / "plugin_programs"

pytestmark = [pytest.mark.timeout(600)]


def _netns_prefix(name: str) -> list[str]:
    from infra.netns import netns_exec

    return netns_exec(name)


@pytest.fixture(scope="module", params=["pypi", "ours"])
def plugins_python(request: pytest.FixtureRequest) -> str:
    """The Python of client and runtime: PyPI flyte's plugins venv, or ours (the plugins on top of our SDK)."""
    if request.param == "pypi":
        return find_reference_plugins_python()
    return sys.executable


@pytest.fixture(scope="module")
def plugin_server(
    loopback_netns: str, plugins_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("plugin-server")
    server = ServerProcess(
        data_dir=root / "server",
        worker_python=plugins_python,
        workers=6,
        command_prefix=_netns_prefix(loopback_netns),
        extra_env={"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"},
    )
    server.start(timeout=120)
    yield server
    server.stop()


class Driver:
    """``plugin_programs/driver.py`` with the plugins venv, inside the namespace; a fresh HOME per call."""

    def __init__(self, python: str, netns: str, root: Path, server: ServerProcess) -> None:
        self.python = python
        self.netns = netns
        self.root = root
        self.server = server
        self.calls = 0
        self.project = root / "project"
        shutil.copytree(PROGRAMS, self.project, ignore=shutil.ignore_patterns("__pycache__"))

    def __call__(self, command: dict[str, Any], *, timeout: float = 400) -> dict[str, Any]:
        self.calls += 1
        home = self.root / f"home-{self.calls}"
        home.mkdir()
        env = {key: value for key, value in reference_env().items() if not key.startswith("PYTEST_")}
        env["HOME"] = str(home)
        request = {"endpoint": self.server.endpoint, "project": PROJECT, "domain": DOMAIN, **command}
        result = subprocess.run(
            [*_netns_prefix(self.netns), self.python, "driver.py", json.dumps(request)],
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        # PyPI flyte's HTTP client sometimes aborts the process while it exits, after the result.
        if result.returncode not in (0, -signal.SIGABRT) or not lines:
            raise AssertionError(
                f"driver failed ({result.returncode}) for {command}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
                f"\nserver log:\n{self.server.log_tail()}"
            )
        parsed: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return parsed


@pytest.fixture(scope="module")
def driver(
    plugin_server: ServerProcess, plugins_python: str, loopback_netns: str, tmp_path_factory: pytest.TempPathFactory
) -> Driver:
    return Driver(plugins_python, loopback_netns, tmp_path_factory.mktemp("plugin-client"), plugin_server)


def _attempt_log(server: ServerProcess, run: str, attempt: int = 1) -> Path:
    return server.data_dir / "logs" / PROJECT / DOMAIN / run / "a0" / f"{attempt}.log"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def processes_of(run: str) -> dict[int, str]:
    """Live processes (pid: command line) of ``run``'s attempts and their clusters, by their environment marker."""
    marker = f"FLYTE_CLUSTER_OF={PROJECT}/{DOMAIN}/{run}/".encode()
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(item.startswith(marker) for item in environ.split(b"\0")) and _state(int(entry)) not in ("Z", "X"):
            found[int(entry)] = cmdline
    return found


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _only_value(result: dict[str, Any]) -> Any:
    assert result.get("phase", "").endswith("SUCCEEDED"), result
    return result["values"][0]


@pytest.mark.ray
def test_a_ray_task_gets_the_cluster_of_its_spec(driver: Driver, plugin_server: ServerProcess) -> None:
    result = driver({"op": "run", "task": "ray_fanout", "inputs": {"n": 12}})
    value = json.loads(_only_value(result))
    # A head with 1 CPU and two workers with 2 CPUs and one flyte_e2e each; the remote calls need flyte_e2e.
    assert value["total"] == sum(i * i for i in range(12))
    assert (value["cpu"], value["flyte_e2e"], value["nodes"]) == (5.0, 2.0, 3)
    assert value["address"].startswith("127.0.0.1:")
    log = _attempt_log(plugin_server, result["run"]).read_text(errors="replace")
    assert "[ray-head]" in log and "[ray-worker-squares-1]" in log
    assert wait_for(lambda: not processes_of(result["run"]), 60, "the Ray cluster to be torn down")


@pytest.mark.dask
def test_a_dask_task_gets_the_workers_of_its_spec(driver: Driver, plugin_server: ServerProcess) -> None:
    result = driver({"op": "run", "task": "dask_sum", "inputs": {"n": 100}})
    value = json.loads(_only_value(result))
    assert value == {"workers": 3, "threads": [2, 2, 2], "total": sum(range(100))}
    assert "[dask-scheduler]" in _attempt_log(plugin_server, result["run"]).read_text(errors="replace")
    assert wait_for(lambda: not processes_of(result["run"]), 60, "the Dask cluster to be torn down")


@pytest.mark.spark
def test_a_spark_word_count_has_the_spark_conf_of_its_spec(driver: Driver) -> None:
    result = driver({"op": "run", "task": "spark_wordcount", "inputs": {"text": "a b a c b a"}})
    value = json.loads(_only_value(result))
    assert value["counts"] == {"a": 3, "b": 2, "c": 1}
    assert value["grouped"] == 3
    assert (value["partitions"], value["marker"], value["hadoop"]) == ("3", "from-the-spec", "hadoop-marker")
    assert value["master"] == "local[2]"  # spark.executor.instances 2 x 1 core


def test_polars_and_pandera_frames_travel_between_tasks(driver: Driver) -> None:
    assert _only_value(driver({"op": "run", "task": "polars_between_tasks", "inputs": {"n": 10}})) == 45
    assert _only_value(driver({"op": "run", "task": "pandera_between_tasks", "inputs": {"n": 4}})) == "p3:30"


@pytest.mark.parametrize(
    ("task", "inputs", "minimum"),
    [
        pytest.param("ray_fanout", {"n": 2}, 4, marks=pytest.mark.ray, id="ray"),
        pytest.param("dask_sum", {"n": 2}, 5, marks=pytest.mark.dask, id="dask"),
        pytest.param("spark_wordcount", {"text": "x y"}, 2, marks=pytest.mark.spark, id="spark"),
    ],
)
def test_abort_leaves_no_cluster_process_behind(
    driver: Driver, plugin_server: ServerProcess, plugins_python: str, task: str, inputs: dict[str, Any], minimum: int
) -> None:
    if plugins_python == sys.executable:
        pytest.skip("the handlers do not depend on the runtime: checked once, with PyPI flyte's (CI minutes)")
    run = driver({"op": "run", "task": task, "inputs": {**inputs, "hold": 600}, "wait": False})["run"]
    log = _attempt_log(plugin_server, run)
    wait_for(lambda: log.exists() and "HOLDING" in log.read_text(errors="replace"), 300, f"{task} to run")
    running = processes_of(run)
    # The task and its cluster: ray start per node (and raylets, ...), a Dask scheduler and 3 workers, a Spark JVM.
    assert len(running) >= minimum, running
    driver({"op": "abort", "run": run})
    left = wait_for(lambda: [pid for pid in running if _state(pid) not in ("Z", "X")] == [] or None, 60, "teardown")
    assert left
    assert not processes_of(run)


@pytest.mark.dask
def test_a_crashed_cluster_process_fails_the_attempt_as_a_system_error_and_it_is_retried(
    driver: Driver, plugin_server: ServerProcess, plugins_python: str
) -> None:
    if plugins_python == sys.executable:
        pytest.skip("the handlers do not depend on the runtime: checked once, with PyPI flyte's (CI minutes)")
    run = driver({"op": "run", "task": "dask_sum", "inputs": {"n": 10, "hold": 600}, "wait": False})["run"]
    log = _attempt_log(plugin_server, run)
    wait_for(lambda: log.exists() and "HOLDING" in log.read_text(errors="replace"), 300, "the first attempt to run")
    workers = [pid for pid, cmdline in processes_of(run).items() if "distributed.cli.dask_worker" in cmdline]
    assert len(workers) == 3
    os.kill(workers[0], signal.SIGKILL)
    # The server stops the first attempt (which would hold for ten minutes) and runs a second one with a new cluster.
    value = json.loads(_only_value(driver({"op": "wait", "run": run})))
    assert value["workers"] == 3
    assert _attempt_log(plugin_server, run, 2).exists()
    assert "dask cluster process dask-worker-0" in plugin_server.log_tail(400)
