"""The subcommands of ``flyte run`` that are not files: ``hello`` (a built-in first workflow) and
``python-script`` (a plain script run as a task). ``deployed-task`` lives in ``_run_remote``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from flyte.cli._common import error_message, fail, get_cli_config, init_remote, remote_errors

__all__ = ["HELLO_SOURCE", "hello", "python_script"]

HELLO_SOURCE = '''"""A first Flyte workflow: fan a computation out with flyte.map, then combine the results.

Run it with:  flyte run --local hello.py main   (or without --local on a control plane)
"""

import flyte

env = flyte.TaskEnvironment(name="hello_world")


@env.task
async def square(x: int) -> int:
    """One unit of work: runs as its own action, in parallel with the others."""
    return x * x


@env.task
async def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


@env.task
async def main(x_list: list[int] = list(range(10))) -> float:
    """Square every number (in parallel) and return the mean of the squares."""
    squares = [result async for result in flyte.map.aio(square, x_list)]
    return await mean(squares)
'''


@click.command("hello")
@click.option(
    "--x_list",
    "--x-list",
    "x_list",
    metavar="JSON LIST",
    default="[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
    show_default=True,
    help="The numbers to square, as a JSON list of integers.",
)
@click.pass_context
def hello(ctx: click.Context, x_list: str) -> None:
    """Run a built-in first workflow; no files needed.

    It squares a list of numbers in parallel with flyte.map and returns the mean of the
    squares. Its source is written to hello.py in a new scratch folder, whose path is printed,
    so that you can copy it and start your own project from it.

    \b
        flyte run --local hello
        flyte run hello --x_list '[1, 2, 3]'
    """
    from flyte.cli._loader import ModuleLoadFailure, find_tasks, load_module
    from flyte.cli._run import execute

    try:
        numbers = json.loads(x_list)
    except ValueError as error:
        raise click.BadParameter(f"{x_list!r} is not JSON: {error}", ctx=ctx, param_hint="--x_list") from error
    if not isinstance(numbers, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise click.BadParameter(f"{x_list!r} is not a JSON list of integers", ctx=ctx, param_hint="--x_list")
    folder = Path(tempfile.mkdtemp(prefix="flyte-hello-"))
    path = folder / "hello.py"
    path.write_text(HELLO_SOURCE)
    click.echo(f"The example's source: {path}", err=True)
    try:
        tasks = find_tasks(load_module(path, folder))
    except ModuleLoadFailure as error:  # only if the environment cannot import flyte's own example
        fail(error.message, error=error.cause or error, verbose=get_cli_config(ctx).verbose)
    execute(ctx, tasks["main"], {"x_list": numbers}, path=path)


@click.command("python-script")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cpu", type=click.IntRange(min=1), default=1, show_default=True, help="CPUs to request.")
@click.option("--memory", default="2Gi", show_default=True, help="Memory to request, e.g. 16Gi.")
@click.option("--gpu", type=click.IntRange(min=0), default=0, show_default=True, help="GPUs to request.")
@click.option("--gpu-type", default="T4", show_default=True, help="GPU type when --gpu > 0: T4, A100, H100, L4, ...")
@click.option("--image", help="Container image to run in (not with --packages).")
@click.option("--packages", help="Pip packages to add to the default image, comma-separated (not with --image).")
@click.option("--timeout", type=click.IntRange(min=1), default=3600, show_default=True, help="Seconds it may run.")
@click.option("--extra-args", help="Arguments for the script, comma-separated.")
@click.option("--queue", help="Queue to run on.")
@click.option("--include-files", help="Other files to ship next to the script, comma-separated.")
@click.option(
    "--plugin-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file configuring a plugin (Ray, PyTorch, ...) to run under; needs a backend that has it.",
)
@click.option("--clustered", is_flag=True, help="Run on several nodes with torchrun; needs a backend that has it.")
@click.option("--replicas", type=click.IntRange(min=1), help="With --clustered: the number of nodes.")
@click.option("--nproc-per-node", type=click.IntRange(min=1), help="With --clustered: processes per node.")
@click.option("--rdzv-backend", help="With --clustered: torchrun's rendezvous backend (e.g. c10d).")
@click.option("--torchrun-max-restarts", type=click.IntRange(min=0), help="With --clustered: torchrun restarts.")
@click.option("--cluster-max-restarts", type=click.IntRange(min=0), help="With --clustered: restarts of the cluster.")
@click.option("--restart-on-host-maintenance", is_flag=True, help="With --clustered: restart after host maintenance.")
@click.option("--ttl-seconds-after-finished", type=click.IntRange(min=0), help="With --clustered: keep it this long.")
@click.option("--output-dir", help="Folder the script writes results to, uploaded when it ends; needs backend support.")
@click.pass_context
def python_script(
    ctx: click.Context,
    script: Path,
    cpu: int,
    memory: str,
    gpu: int,
    gpu_type: str,
    image: str | None,
    packages: str | None,
    timeout: int,
    extra_args: str | None,
    queue: str | None,
    include_files: str | None,
    plugin_config: Path | None,
    clustered: bool,
    replicas: int | None,
    nproc_per_node: int | None,
    rdzv_backend: str | None,
    torchrun_max_restarts: int | None,
    cluster_max_restarts: int | None,
    restart_on_host_maintenance: bool,
    ttl_seconds_after_finished: int | None,
    output_dir: str | None,
) -> None:
    """Run the Python script SCRIPT as a task on the control plane.

    The script is shipped as it is and run with python, with the resources asked for. Options
    of the run itself (-p/-d, --name, --follow, --wait) go before python-script.

    \b
        flyte run python-script train.py --cpu 2 --extra-args=--epochs,3
        flyte run --wait python-script report.py --packages pandas,tabulate
    """
    import flyte
    from flyte.cli._rerun import _report
    from flyte.cli._run import RunOptions

    if image and packages:
        raise click.UsageError("--image and --packages cannot be used together", ctx)
    cluster_only = {
        "--replicas": replicas is not None,
        "--nproc-per-node": nproc_per_node is not None,
        "--rdzv-backend": rdzv_backend is not None,
        "--torchrun-max-restarts": torchrun_max_restarts is not None,
        "--cluster-max-restarts": cluster_max_restarts is not None,
        "--restart-on-host-maintenance": restart_on_host_maintenance,
        "--ttl-seconds-after-finished": ttl_seconds_after_finished is not None,
    }
    if not clustered and any(cluster_only.values()):
        given = ", ".join(option for option, set_ in cluster_only.items() if set_)
        raise click.UsageError(f"{given}: only with --clustered", ctx)
    options = ctx.find_object(RunOptions) or RunOptions()
    if options.local:
        fail("python-script runs on a control plane; --local cannot be used with it")
    cli = get_cli_config(ctx)
    init_remote(cli, project=options.project, domain=options.domain)
    chosen_image: Any = image
    if packages:
        chosen_image = [item.strip() for item in packages.split(",") if item.strip()]
    elif image:
        chosen_image = flyte.Image.from_base(image)
    extra: dict[str, Any] = {}
    if plugin_config is not None:
        import yaml

        extra["plugin_config"] = yaml.safe_load(plugin_config.read_text())
    started = time.monotonic()
    try:
        with remote_errors(cli):
            run = flyte.run_python_script(
                script,
                cpu=cpu,
                memory=memory,
                gpu=gpu,
                gpu_type=gpu_type,
                image=chosen_image,
                timeout=timeout,
                extra_args=[item for item in (extra_args or "").split(",") if item] or None,
                queue=queue or options.queue,
                wait=False,
                name=options.name,
                output_dir=output_dir,
                include_files=[item.strip() for item in (include_files or "").split(",") if item.strip()] or None,
                clustered=clustered,
                replicas=replicas,
                nproc_per_node=nproc_per_node,
                ttl_seconds_after_finished=ttl_seconds_after_finished,
                **extra,
            )
    except NotImplementedError as error:
        fail(error_message(error), error=error, verbose=cli.verbose)
    _report(cli, run, options.follow or options.wait, started)
