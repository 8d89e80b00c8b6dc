"""Tasks the container tests run (with either SDK as the client)."""

import asyncio
import os
from pathlib import Path

import flyte

limited = flyte.TaskEnvironment("ct_limited", resources=flyte.Resources(cpu=1, memory="300Mi"))
light = flyte.TaskEnvironment("ct_light")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


@limited.task
async def limits() -> str:
    """memory bytes | cpu quota/period, from cgroup v2 or v1; and whether this runs in a container."""
    memory = _read("/sys/fs/cgroup/memory.max") or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    cpu = _read("/sys/fs/cgroup/cpu.max").replace(" ", "/") or (
        _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + "/" + _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    )
    print(f"inside the container: memory {memory}, cpu {cpu}", flush=True)
    return f"{memory}|{cpu}|{os.path.exists('/run/.containerenv')}|{_read('/etc/debian_version')}"


@limited.task
async def sleepy(seconds: int) -> int:
    print("sleeping", flush=True)
    await asyncio.sleep(seconds)
    return seconds


@light.task
async def warm_sleepy(seconds: int) -> int:
    print("sleeping warm", flush=True)
    await asyncio.sleep(seconds)
    return seconds


@light.task
async def square(x: int) -> int:
    return x * x


@light.task
async def fan_out(n: int) -> int:
    return sum(await asyncio.gather(*(square(i) for i in range(n))))


# A command in an image, inputs and outputs as files (flyte.extras.ContainerTask, either SDK).
from flyte.extras import ContainerTask  # noqa: E402

greet = ContainerTask(
    name="ct_greet",
    image="localhost/flyte-test/debian:bookworm",
    inputs={"name": str, "n": int},
    outputs={"greeting": str, "total": int},
    command=[
        "/bin/sh",
        "-c",
        'echo "hello {{.inputs.name}}" > /var/outputs/greeting && '
        "echo $(( $(cat /var/inputs/n) * 2 )) > /var/outputs/total && echo container-task-ran",
    ],
)
greet_env = flyte.TaskEnvironment.from_task("ct_greet_env", greet)
caller = flyte.TaskEnvironment("ct_caller", depends_on=[greet_env])


@caller.task
async def greet_twice(name: str) -> str:
    greeting, total = await greet(name=name, n=21)
    return f"{greeting}|{total}"


broken = ContainerTask(
    name="ct_broken",
    image="localhost/flyte-test/debian:bookworm",
    inputs={"n": int},
    outputs={"total": int},
    command=["/bin/sh", "-c", "echo about to fail; exit 3"],
)
broken_env = flyte.TaskEnvironment.from_task("ct_broken_env", broken)


missing_image = flyte.TaskEnvironment("ct_missing_image", image="localhost/flyte-test/no-such-image:1")


@missing_image.task
async def in_a_missing_image() -> int:
    return 1


secretive = flyte.TaskEnvironment(
    "ct_secretive",
    resources=flyte.Resources(cpu=1, memory="300Mi"),
    secrets=[flyte.Secret(key="ct-token", group="ct", mount="/etc/flyte/secrets"), flyte.Secret(key="ct-token")],
)


@secretive.task
async def read_secret() -> str:
    """The secret as a file (mounted) and as an environment variable."""
    return Path("/etc/flyte/secrets/ct/ct-token").read_text() + "|" + os.environ.get("CT_TOKEN", "")
