"""Tasks that try to reach the control plane's secrets from inside a worker (tests/e2e/test_isolation.py)."""

import json
import os

import flyte

env = flyte.TaskEnvironment(name="isolation_probe")


def _try_read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return "READ:" + handle.read(200).decode(errors="replace")
    except OSError as error:
        return type(error).__name__


@env.task
async def probe(data_dir: str, server_pid: int, sentinel: str) -> str:
    """What this task can see of the server: its files, its environment, other processes' environments."""
    found = {
        "uid": os.getuid(),
        "key": _try_read(os.path.join(data_dir, "server.key")),
        "db": _try_read(os.path.join(data_dir, "flyte.db")),
        "server_environ": _try_read(f"/proc/{server_pid}/environ"),
        "own_env_has_sentinel": any(sentinel in value for value in os.environ.values()),
        "env_names": sorted(os.environ),
    }
    try:
        found["listing"] = sorted(os.listdir(data_dir))
    except OSError as error:
        found["listing"] = type(error).__name__
    leaked = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if sentinel.encode() in handle.read():
                        leaked.append(int(entry))
            except OSError:
                pass
    found["leaked_pids"] = sorted(set(leaked))
    return json.dumps(found)


@env.task
async def nap(seconds: float) -> str:
    """Stays running, so a test can enqueue children under it."""
    import asyncio

    await asyncio.sleep(seconds)
    return "rested"
