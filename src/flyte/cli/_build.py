"""``flyte build [OPTIONS] FILE|DIR [ENV]``: build the images of environments (see docs/images.md)."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import (
    activity,
    copy_style_option,
    emit_rows,
    fail,
    get_cli_config,
    root_dir_option,
    stderr_console,
)

__all__ = ["build"]


@click.command("build")
@click.argument("path", metavar="FILE|DIR", type=click.Path(exists=True, path_type=Path))
@click.argument("env_name", metavar="[ENV]", required=False)
@copy_style_option(
    "Copy style of the eventual deploy (image tags do not depend on it here).",
    ("loaded_modules", "all", "none", "custom"),
)
@root_dir_option()
@click.option("-r", "--recursive", is_flag=True, help="DIR: every environment of every Python file under it.")
@click.option("--all", "build_all", is_flag=True, help="Every environment of FILE, or of the Python files in DIR.")
@click.option("-i", "--ignore-load-errors", is_flag=True, help="With a DIR: skip the files that fail to load.")
@click.option("--dry-run", is_flag=True, help="Print the Dockerfile of each image instead of building.")
@click.option("--force", is_flag=True, help="Build even when the registry already has the image.")
@click.pass_context
def build(
    ctx: click.Context,
    path: Path,
    env_name: str | None,
    copy_style: str,
    root_dir: Path | None,
    recursive: bool,
    build_all: bool,
    ignore_load_errors: bool,
    dry_run: bool,
    force: bool,
) -> None:
    """Build the image of environment ENV of FILE (every environment with --all), tag it with its
    content hash and push it to its registry; an image the registry already has is not rebuilt.

    The local builder uses podman, docker or buildah (the first that works here). Set
    FLYTE_DEBIAN_BASE to a local Debian image with python3 to build Image.from_debian_base()
    images where Flyte's published bases cannot be pulled.

    \b
        flyte build hello.py hello_env
        flyte build --all hello.py
        flyte build --all --recursive ./src
    """
    import flyte
    from flyte._image import Image
    from flyte._task_environment import Environment
    from flyte.cli._deploy import _python_files
    from flyte.cli._loader import ModuleLoadFailure, load_module
    from flyte.errors import ImageBuildError

    cli = get_cli_config(ctx)
    if path.is_dir() and not (recursive or build_all):
        raise click.UsageError(f"{path} is a directory; add --all (its files) or --recursive (its tree)", ctx)
    files = _python_files(path, recursive) if path.is_dir() else [path]
    root = root_dir or (path.resolve() if path.is_dir() else None)
    envs: dict[str, Environment] = {}
    for file in files:
        try:
            module = load_module(file, root)
        except ModuleLoadFailure as error:
            if path.is_dir() and ignore_load_errors:
                click.echo(f"Skipped {file} ({error.message})", err=True)
                continue
            fail(error.message, error=error.cause or error, verbose=cli.verbose)
        envs.update({v.name: v for v in vars(module).values() if isinstance(v, Environment)})
    if not envs:
        fail(f"{path} defines no environment; create one with flyte.TaskEnvironment(name=...)")
    if env_name is not None and not build_all:
        if env_name not in envs:
            fail(f"No environment named {env_name!r} in {path} (its environments: {', '.join(sorted(envs))})")
        chosen = [envs[env_name]]
    else:
        chosen = list(envs.values())
    console = stderr_console()
    interactive = cli.progress and console.is_terminal and not cli.wants_json
    rows = []
    for env in chosen:
        image = env.image if isinstance(env.image, Image) else Image.from_debian_base()
        if isinstance(env.image, str) and env.image != "auto":
            rows.append({"environment": env.name, "image": env.image, "status": "given"})
            continue
        try:
            with activity(console, f"Image of {env.name}", enabled=interactive and not dry_run):
                result = flyte.build(image, dry_run=dry_run, force=force)
        except (ImageBuildError, FileNotFoundError) as error:
            fail(f"The image of environment {env.name!r} did not build:\n{error}", error=error, verbose=cli.verbose)
        if dry_run and result.dockerfile:
            click.echo(f"# --- {env.name}: {result.uri}\n{result.dockerfile}")
        for note in result.notes:
            click.echo(f"{env.name}: {note}", err=True)
        status = "would build" if dry_run else ("exists" if result.existed else "built")
        rows.append({"environment": env.name, "image": result.uri or "", "status": status})
    emit_rows(cli, "Images", [("environment", "Environment"), ("image", "Image"), ("status", "Status")], rows)
