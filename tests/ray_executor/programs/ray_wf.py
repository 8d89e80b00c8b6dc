"""Tasks only the Ray executor tests run (bundled with ``e2e_wf.py``; public ``flyte`` API only)."""

import asyncio
import os
import pathlib

import flyte

pinned = flyte.TaskEnvironment(name="e2e_ray_pinned", env_vars={"FLYTE_RAY_RESOURCES": '{"node2": 1}'})
one_cpu = flyte.TaskEnvironment(name="e2e_ray_cpu", resources=flyte.Resources(cpu=1))
roots = flyte.TaskEnvironment(name="e2e_ray_roots", depends_on=[one_cpu, pinned])


@pinned.task
async def where_pinned(x: int) -> str:
    """The id of the Ray node that ran it (the runtime runs inside a Ray actor there)."""
    import ray

    return ray.get_runtime_context().get_node_id()


@one_cpu.task
async def cpu_nap(marker_dir: str, i: int, seconds: float) -> int:
    """Holds one CPU: appends its pid to ``<i>.pids``, naps, writes ``<i>.done``."""
    with open(os.path.join(marker_dir, f"{i}.pids"), "a") as out:
        out.write(f"{os.getpid()}\n")
    await asyncio.sleep(seconds)
    pathlib.Path(marker_dir, f"{i}.done").write_text("x")
    return i


@roots.task
async def cpu_fan_out(marker_dir: str, n: int, seconds: float) -> list[int]:
    return list(await asyncio.gather(*[cpu_nap(marker_dir, i, seconds) for i in range(n)]))


@roots.task
async def pinned_fan_out(n: int) -> list[str]:
    return list(await asyncio.gather(*[where_pinned(i) for i in range(n)]))


one_gpu = flyte.TaskEnvironment(name="e2e_ray_gpu", resources=flyte.Resources(gpu=1))


@one_gpu.task
async def needs_a_gpu(x: int) -> int:
    return x


with_secret = flyte.TaskEnvironment(
    name="e2e_ray_secret", secrets=[flyte.Secret(key="ray-e2e-token", as_env_var="RAY_E2E_TOKEN")]
)


@with_secret.task
async def secret_digest(x: int) -> str:
    """The SHA-256 of the secret the runner's environment got (the value itself stays out of outputs)."""
    import hashlib

    return hashlib.sha256(os.environ.get("RAY_E2E_TOKEN", "").encode()).hexdigest()
