"""``flyte.run_python_script``: run a plain Python script as a Flyte task, with chosen resources.

The script (and any ``include_files``) travel as :class:`flyte.io.File` inputs of one task
defined here, ``flyte-python-script.run_script``, which downloads them next to each other and
runs ``python <script> <extra_args>``; a non-zero exit fails the action with the script's last
output lines. The task is part of the ``flyte`` package, so any worker that has ``flyte``
installed can load it — no code bundle of the caller's is needed.
"""

# No ``from __future__ import annotations`` here: the task travels as a pickle, and a pickled
# function's string annotations could not be resolved where it is rebuilt.

import pathlib
from typing import TYPE_CHECKING, Any

import flyte
from flyte._internal.syncify import syncify
from flyte.io import File  # the task's signature names it, so it is needed at run time

if TYPE_CHECKING:
    from flyte._image import Image
    from flyte._run import Run

__all__ = ["run_python_script"]

env = flyte.TaskEnvironment(name="flyte-python-script")

_TAIL_LINES = 30


@env.task
async def run_script(script: File[Any], args: list[str], include: list[File[Any]]) -> int:
    """Download ``script`` (and ``include``), run it with ``args``; returns the exit status (always 0)."""
    import asyncio
    import os
    import sys
    import tempfile
    from collections import deque

    from flyte.errors import RuntimeUserError

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flyte-script-"))
    script_name = pathlib.PurePath(script.path).name
    local_script = await script.download(workdir / script_name)
    for extra in include:
        await extra.download(workdir / pathlib.PurePath(extra.path).name)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        local_script,
        *args,
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    async for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        print(line, flush=True)
        tail.append(line)
    status = await process.wait()
    if status != 0:
        output = "\n".join(tail)
        raise RuntimeUserError("ScriptFailed", f"{script_name} exited with status {status}:\n{output}")
    return status


_UNSUPPORTED = (
    "debug",
    "output_dir",
    "plugin_config",
    "clustered",
    "replicas",
    "nproc_per_node",
    "runtime",
    "failure_policy",
    "ttl_seconds_after_finished",
)


@syncify
async def run_python_script(
    script: pathlib.Path,
    *,
    cpu: int = 4,
    memory: str = "16Gi",
    gpu: int = 0,
    gpu_type: str = "T4",
    image: "Image | list[str] | None" = None,
    timeout: int = 3600,
    extra_args: list[str] | None = None,
    queue: str | None = None,
    wait: bool = False,
    name: str | None = None,
    debug: bool = False,
    output_dir: str | None = None,
    include_files: list[str] | None = None,
    plugin_config: Any = None,
    clustered: bool = False,
    replicas: int | None = None,
    nproc_per_node: int | None = None,
    runtime: Any = None,
    failure_policy: Any = None,
    ttl_seconds_after_finished: int | None = None,
) -> "Run":
    """Run a Python script as a task (locally, or on the configured control plane).

    Args:
        script: the script to run.
        cpu: CPUs requested.
        memory: memory requested (``"16Gi"``).
        gpu: GPUs requested (0 for none).
        gpu_type: the accelerator, when ``gpu`` > 0 (``"T4"``, ``"A100"``, ...).
        image: the image to run in: an :class:`flyte.Image`, or pip packages to add to the default one.
        timeout: seconds the script may run.
        extra_args: arguments passed to the script.
        queue: the queue to run on.
        wait: block until the run has finished.
        name: the run's name.
        include_files: other files placed next to the script.

    Clustered execution (``clustered``, ``replicas``, ``nproc_per_node``, ``runtime``,
    ``failure_policy``, ``ttl_seconds_after_finished``), ``plugin_config``, ``debug`` and
    ``output_dir`` need backend features this implementation does not have; passing any of
    them raises ``NotImplementedError``.

    Raises:
        FileNotFoundError: the script or an included file does not exist.
        NotImplementedError: an unsupported option was given.

    Example:
        >>> script = pathlib.Path("train.py")
        >>> run = flyte.run_python_script(script, cpu=2, extra_args=["--epochs", "3"])  # doctest: +SKIP
        >>> run.wait()  # doctest: +SKIP
    """
    given = {
        "debug": debug,
        "output_dir": output_dir,
        "plugin_config": plugin_config,
        "clustered": clustered,
        "replicas": replicas,
        "nproc_per_node": nproc_per_node,
        "runtime": runtime,
        "failure_policy": failure_policy,
        "ttl_seconds_after_finished": ttl_seconds_after_finished,
    }
    unsupported = [option for option in _UNSUPPORTED if given[option] not in (None, False)]
    if unsupported:
        raise NotImplementedError(
            f"run_python_script: {', '.join(unsupported)} not supported by this implementation "
            "(no clustered execution or debug sessions)"
        )

    script = pathlib.Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"Script {script} does not exist")
    includes = [pathlib.Path(p) for p in include_files or ()]
    missing = [str(p) for p in includes if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"include_files not found: {', '.join(missing)}")

    resources = flyte.Resources(cpu=cpu, memory=memory, gpu=f"{gpu_type}:{gpu}" if gpu > 0 else None)
    chosen_image: Any = image
    if isinstance(image, list):
        from flyte._image import Image

        chosen_image = Image.from_debian_base().with_pip_packages(*image)
    options: dict[str, Any] = {"resources": resources, "timeout": timeout}
    if queue is not None:
        options["queue"] = queue
    if chosen_image is not None:
        options["image"] = chosen_image
    task = run_script.override(**options)
    uploaded_script: File[Any] = await File.from_local(script)
    uploaded_includes: list[File[Any]] = [await File.from_local(p) for p in includes]
    # The task lives in the installed flyte package, not under the caller's code root: it travels
    # as a pickle (of a reference to this module), which any worker with flyte installed can load.
    context = flyte.with_runcontext(name=name, interactive_mode=True)
    run = await context.run.aio(task, script=uploaded_script, args=list(extra_args or []), include=uploaded_includes)
    if wait:
        await run.wait.aio()
    return run
