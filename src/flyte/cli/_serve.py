"""``flyte serve [OPTIONS] FILE [ENV]``: serve an app of a Python file, here (``--local``) or on the control plane."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flyte.cli._common import copy_style_option, fail, get_cli_config, init_remote, remote_errors, root_dir_option

if TYPE_CHECKING:
    from flyte.app._app_environment import AppEnvironment

__all__ = ["serve"]


def _env_vars(ctx: click.Context, values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param_hint="--env-var")
        result[key.strip()] = value
    return result


def _pick(path: Path, env_name: str | None, root_dir: Path | None, verbose: int) -> AppEnvironment:
    from flyte.app._app_environment import AppEnvironment
    from flyte.cli._loader import ModuleLoadFailure, load_module

    try:
        module = load_module(path, root_dir)
    except ModuleLoadFailure as error:
        fail(error.message, error=error.cause or error, verbose=verbose)
    apps = {value.name: value for value in vars(module).values() if isinstance(value, AppEnvironment)}
    by_attribute = {key: value for key, value in vars(module).items() if isinstance(value, AppEnvironment)}
    if not apps:
        fail(f"{path} defines no app; create one with flyte.app.AppEnvironment(name=...)")
    if env_name is None:
        if len(apps) > 1:
            fail(f"{path} defines several apps ({', '.join(sorted(apps))}); name the one to serve")
        return next(iter(apps.values()))
    chosen = by_attribute.get(env_name) or apps.get(env_name)
    if chosen is None:
        names = sorted(set(by_attribute) | set(apps))
        fail(f"No app named {env_name!r} in {path} (its apps: {', '.join(names)})")
    return chosen


def _hello_example() -> Path:
    """The example app ``flyte serve hello`` serves; its path is printed so it can be copied."""
    import importlib.util

    spec = importlib.util.find_spec("flyte.app._examples.hello")
    assert spec is not None and spec.origin is not None
    click.echo(f"Serving the example app of {spec.origin} (copy it to start your own)", err=True)
    return Path(spec.origin)


def _stop_on_sigterm() -> Any:
    """SIGTERM ends ``flyte serve --local`` like Ctrl-C does: the app process is stopped first.

    Returns the previous handler (restored when serving ends).
    """

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


@click.command("serve")
@click.argument("path", metavar="FILE|hello", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("env_name", metavar="[ENV]", required=False)
@click.option("-p", "--project", help="Project to deploy to; overrides the config file.")
@click.option("-d", "--domain", help="Domain to deploy to; overrides the config file.")
@copy_style_option()
@root_dir_option()
@click.option("--service-account", help="Service account the app runs as.")
@click.option("--name", help="Deploy the app under this name instead of its environment's.")
@click.option("-f", "--follow", is_flag=True, help="After deploying, print the app's logs as they come (Ctrl-C stops).")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="NAME=URI",
    help="Use URI for the image named NAME (a URI alone: the default image); repeatable.",
)
@click.option(
    "--no-sync-local-sys-paths",
    "no_sync_local_sys_paths",
    is_flag=True,
    help="Do not give the app this session's sys.path entries under the code root.",
)
@click.option("-e", "--env-var", "env_vars", multiple=True, metavar="KEY=VALUE", help="Set in the app; repeatable.")
@click.option("--local", is_flag=True, help="Serve the app on this machine (on its port) instead of deploying it.")
@click.option("--port", type=click.IntRange(1, 65535), help="With --local: listen here instead of the app's port.")
@click.pass_context
def serve(
    ctx: click.Context,
    path: Path,
    env_name: str | None,
    project: str | None,
    domain: str | None,
    copy_style: str,
    root_dir: Path | None,
    service_account: str | None,
    name: str | None,
    follow: bool,
    images: tuple[str, ...],
    no_sync_local_sys_paths: bool,
    env_vars: tuple[str, ...],
    local: bool,
    port: int | None,
) -> None:
    """Serve the app ENV of FILE (ENV: its variable or its name; optional when FILE has one app),
    or with "hello" the SDK's example app (its path is printed: copy it to start your own).

    Without --local the app is deployed to the configured control plane and its URL printed;
    with --local it runs on this machine until Ctrl-C, and its URL is printed once it answers.

    \b
        flyte serve --local hello
        flyte serve --local app.py env
        flyte serve --env-var LOG_LEVEL=DEBUG app.py env
    """
    import flyte
    from flyte._serve import _Serve
    from flyte.cli._deploy import _image_refs
    from flyte.cli._run_remote import code_root_for

    cli = get_cli_config(ctx)
    if not path.exists():
        if str(path) != "hello":
            raise click.BadParameter(f"File {str(path)!r} does not exist.", ctx=ctx, param_hint="'FILE'")
        path = _hello_example()
        env_name = env_name or "env"
    variables = _env_vars(ctx, env_vars)
    image_refs = _image_refs(ctx, images)
    if port is not None and not local:
        raise click.UsageError("--port applies to --local only", ctx)
    app_env = _pick(path, env_name, root_dir, cli.verbose)
    changes: dict[str, Any] = {}
    if name:
        changes["name"] = name
    if service_account:
        changes["service_account"] = service_account
    if changes:
        try:
            app_env = app_env._replaced(**changes)
        except ValueError as error:
            fail(str(error))
    code_root = code_root_for(path, root_dir)
    if local:
        # With a configured endpoint the app's RunOutput/AppEndpoint parameters resolve against it.
        settings = cli.init_kwargs(project=project, domain=domain)
        if settings.get("endpoint"):
            init_remote(cli, project=project, domain=domain, need_scope=False, root_dir=code_root)
        else:
            flyte.init(root_dir=code_root, project=project, domain=domain)
        context = _Serve(mode="local", env_vars=variables or None, port=port)
        previous = _stop_on_sigterm()
        handle = None
        try:
            with remote_errors(cli):
                handle = context._serve_local(app_env)
            click.echo(f"App {app_env.name} is served at {handle.url}")
            sys.stdout.flush()
            code = handle.wait()
            if code:
                fail(f"app {app_env.name!r} exited with code {code}")
        except KeyboardInterrupt:
            pass
        finally:
            if handle is not None:
                handle.deactivate()
            signal.signal(signal.SIGTERM, previous)
        return
    if image_refs:
        image_refs = {**(cli.init_kwargs(project=project, domain=domain).get("images") or {}), **image_refs}
    init_remote(
        cli,
        project=project,
        domain=domain,
        root_dir=code_root,
        images=image_refs or None,
        sync_local_sys_paths=not no_sync_local_sys_paths,
    )
    with remote_errors(cli):
        app = _Serve(mode="remote", env_vars=variables or None, copy_style=copy_style)._serve_remote(app_env)
    if cli.wants_json:
        import json

        click.echo(json.dumps(app.to_dict()))
        return
    click.echo(f"App {app.name} is {app.deployment_status} at {app.url}")
    if follow:
        _follow(app, cli)


def _follow(app: Any, cli: Any) -> None:
    """Print the app's log lines as they come, until Ctrl-C (the app keeps running)."""
    from flyte._internal.syncify import run_sync

    async def stream() -> None:
        async for line in app._log_lines():
            click.echo(line.rstrip("\n"))

    click.echo("Following its logs; Ctrl-C stops following (the app keeps running).", err=True)
    try:
        with remote_errors(cli):
            run_sync(stream())
    except KeyboardInterrupt:
        pass
