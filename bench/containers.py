"""Container start per attempt on ``flyte start server --executor podman``: cold and with warm containers.

Starts its own server (SQLite + local blobs in a temporary directory, ``--container-image`` the
Debian test image that ``tests/infra/podman.py`` builds) and drives it with our SDK:

  (a) cold: a chain of N children that ask for resources (``cpu=1, memory=300Mi``), so each runs
      in a container of its own (``podman run -d --rm`` with limits): milliseconds per attempt,
      from the parent's point of view (enqueue → container start → run → outputs back);
  (b) warm: the same chain of children without resources, run by the image's warm container
      (forked or reused workers inside it): milliseconds per attempt;
  (c) for reference, ``podman run --rm IMAGE true`` on its own;
  (d) a chain of children whose environment's image is
      ``Image.from_debian_base().with_pip_packages("humanize")``, built first with ``flyte.build``
      (on the same Debian image, ``FLYTE_DEBIAN_BASE``): an image with its own runtime, so each
      attempt is a container of its own running the image's ``a0`` (skip with ``--no-built``).

Timed inside the parent task (which runs warm), so the client's and the parent's start-up are
excluded. Usage: python bench/containers.py [--cold 10] [--warm 100] [--image IMAGE]
Needs podman as root with ``CONTAINERS_CONF`` (tests/infra/containers.conf is used by default).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

_ROOT = Path(_HERE).parent


def _load_helper(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server = _load_helper("_server")

WORKFLOW = """
import time

import flyte

limited = flyte.TaskEnvironment(name="bench_ct_cold", resources=flyte.Resources(cpu=1, memory="300Mi"))
built = flyte.TaskEnvironment(name="bench_ct_image", image=flyte.Image.from_debian_base().with_pip_packages("humanize"))
light = flyte.TaskEnvironment(name="bench_ct_warm", depends_on=[limited, built])


@limited.task
async def cold_child(x: int) -> int:
    return x + 1


@light.task
async def warm_child(x: int) -> int:
    return x + 1


@built.task
async def built_child(x: int) -> int:
    import humanize

    return x + len(humanize.intcomma(1))


@light.task
async def chain(n: int, kind: str) -> float:
    child = {"cold": cold_child, "warm": warm_child, "built": built_child}[kind]
    await child(0)  # the first one pays for the warm container's start
    started = time.perf_counter()
    for i in range(n):
        await child(i)
    return time.perf_counter() - started
"""

DRIVER = """
import json, sys
import flyte
import bench_ct_wf

flyte.init(endpoint=sys.argv[1], insecure=True, project="flytesnacks", domain="development")
run = flyte.run(bench_ct_wf.chain, n=int(sys.argv[2]), kind=sys.argv[3])
run.wait(quiet=True)
print("RESULT " + json.dumps({"phase": str(run.phase), "inner": run.outputs()[0]}), flush=True)
"""


def _drive(project: Path, endpoint: str, n: int, kind: str) -> float:
    result = subprocess.run(
        [sys.executable, "driver.py", endpoint, str(n), kind],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"the {kind} run failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    parsed = json.loads(lines[-1].removeprefix("RESULT "))
    if "SUCCEEDED" not in parsed["phase"]:
        raise SystemExit(f"the {kind} run ended {parsed['phase']}")
    return float(parsed["inner"]) * 1000 / n


def _podman_true(image: str, times: int = 5) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run(["podman", "run", "--rm", image, "true"], check=True, capture_output=True)
        spent.append(time.perf_counter() - started)
    spent.sort()
    return spent[len(spent) // 2] * 1000


def _build_humanize(base: str) -> tuple[str, float]:
    """Build (force: this flyte) ``from_debian_base().with_pip_packages("humanize")`` into the local store."""
    os.environ["FLYTE_DEBIAN_BASE"] = base
    os.environ.setdefault("FLYTE_CONTAINER_TOOL", "podman")
    from flyte import Image
    from flyte._build import build

    image = Image.from_debian_base().with_pip_packages("humanize")
    started = time.perf_counter()
    build(image, force=True)
    return image.uri, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=10, help="children in their own containers")
    parser.add_argument("--warm", type=int, default=100, help="children in the warm container")
    parser.add_argument("--image", default=None, help="default: the Debian test image (built once if missing)")
    parser.add_argument("--built", type=int, default=10, help="children in the built humanize image")
    parser.add_argument("--no-built", action="store_true", help="skip (d): no image build")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(_ROOT / "tests" / "infra" / "containers.conf"))
    image = options.image
    if image is None:
        sys.path.insert(0, str(_ROOT / "tests"))
        from infra.podman import debian_base_image

        image = debian_base_image()
    root = Path(tempfile.mkdtemp(prefix="flyte-bench-containers-"))
    project = root / "project"
    project.mkdir()
    (project / "bench_ct_wf.py").write_text(WORKFLOW)
    (project / "driver.py").write_text(DRIVER)
    server, port = _server.start_server(
        root,
        sys.executable,
        8,
        args=["--executor", "podman", "--container-image", image, "--worker-user", "root"],
    )
    endpoint = f"localhost:{port}"
    try:
        print(f"flyte start server --executor podman (image {image}), client and runtime: this SDK")
        warm = _drive(project, endpoint, options.warm, "warm")
        cold = _drive(project, endpoint, options.cold, "cold")
        print(f"  (a) cold: {options.cold} children each in a container of its own: {cold:.0f} ms per attempt")
        print(f"  (b) warm: {options.warm} children in the image's warm container: {warm:.1f} ms per attempt")
        print(f"  (c) podman run --rm IMAGE true alone: {_podman_true(image):.0f} ms (median of 5)")
        if not options.no_built:
            uri, build_s = _build_humanize(image)
            spent = _drive(project, endpoint, options.built, "built")
            print(f"  (d) built image {uri} (flyte.build on {image}: {build_s:.1f} s, layer cache warm or not):")
            per = f"{spent:.0f} ms per attempt"
            print(f"      {options.built} children each in a container of the image, its own a0: {per}")
            if not options.keep:
                subprocess.run(["podman", "rmi", "--force", "--ignore", f"localhost/{uri}"], capture_output=True)
    finally:
        _server.stop_server(server)
        from flyte_server.executors.container import server_label

        mine = subprocess.run(
            ["podman", "ps", "-aq", "--filter", f"label=flyte.server={server_label(root / 'data')}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        for container in mine:  # this server's containers only
            subprocess.run(["podman", "rm", "-f", container], capture_output=True, check=False)
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
