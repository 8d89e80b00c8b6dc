"""``flyte delete ...``: remove things; for now the local cache."""

from __future__ import annotations

import click

from flyte.cli._common import fail, get_cli_config

__all__ = ["delete"]


@click.group("delete", help="Remove resources: the local cache (remote resources come with a control plane).")
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
