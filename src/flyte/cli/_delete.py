"""``flyte delete local-cache|secret|trigger|app``: the local cache, or resources on the control plane."""

from __future__ import annotations

import click

from flyte.cli._common import fail, get_cli_config, init_remote, remote_errors

__all__ = ["delete"]


@click.group("delete", help="Remove the local cache, or a secret, trigger or app on the control plane.")
def delete() -> None:
    pass


@delete.command("local-cache")
@click.pass_context
def local_cache(ctx: click.Context) -> None:
    """Delete every entry of the local task cache ($FLYTE_LOCAL_CACHE_DIR or ~/.flyte/local-cache).

    Local runs of tasks with caching enabled read their outputs from this cache; after
    deleting it, every task runs again.
    """
    import json
    import sqlite3

    from flyte._internal.local_cache import LocalCache, default_cache_dir

    directory = default_cache_dir()
    cache = LocalCache(directory)
    try:
        removed = cache.clear()
        cache.close()
    except sqlite3.Error as e:
        fail(f"Cannot clear the local cache at {directory}: {e}", error=e, verbose=get_cli_config(ctx).verbose)
    if get_cli_config(ctx).wants_json:
        click.echo(json.dumps({"directory": str(directory), "removed": removed}))
        return
    noun = "entry" if removed == 1 else "entries"
    click.echo(f"Removed {removed} {noun} from the local cache at {directory}")


@delete.command("secret")
@click.argument("name")
@click.option("--cluster-pool", help="The cluster pool the secret is scoped to (this control plane has none).")
@click.option("-p", "--project", help="Project of the secret; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the secret; overrides the config file.")
@click.pass_context
def delete_secret(
    ctx: click.Context, name: str, cluster_pool: str | None, project: str | None, domain: str | None
) -> None:
    """Delete the secret NAME."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        flyte.remote.Secret.delete(name, cluster_pool=cluster_pool)
    click.echo(f"Deleted secret {name}")


@delete.command("trigger")
@click.argument("name")
@click.argument("task_name")
@click.option("-p", "--project", help="Project of the task; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the task; overrides the config file.")
@click.pass_context
def delete_trigger(ctx: click.Context, name: str, task_name: str, project: str | None, domain: str | None) -> None:
    """Delete the trigger NAME of TASK_NAME."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        flyte.remote.Trigger.delete(name, task_name)
    click.echo(f"Deleted trigger {name} of {task_name}")


@delete.command("app")
@click.argument("name")
@click.option("-p", "--project", help="Project of the app; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the app; overrides the config file.")
@click.pass_context
def delete_app(ctx: click.Context, name: str, project: str | None, domain: str | None) -> None:
    """Delete the app NAME (it is stopped first)."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        flyte.remote.App.delete(name)
    click.echo(f"Deleted app {name}")
