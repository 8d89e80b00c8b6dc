"""``flyte create ...``: create things; for now a config file."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import AUTH_TYPES, IMAGE_BUILDERS, fail, get_cli_config

__all__ = ["create"]

_DEVBOX = {"endpoint": "localhost:30080", "insecure": True, "project": "flytesnacks", "domain": "development"}


@click.group("create", help="Create resources: a config file (remote resources come with a control plane).")
def create() -> None:
    pass


@create.command("config")
@click.option(
    "--devbox",
    is_flag=True,
    help="Configure for a local devbox cluster: --endpoint localhost:30080 --insecure "
    "--project flytesnacks --domain development (--project/--domain may still be given).",
)
@click.option("--endpoint", help="Endpoint of the Flyte backend, e.g. flyte.example.com or localhost:30080.")
@click.option("--insecure", is_flag=True, help="Connect to the backend without TLS.")
@click.option("--org", help="Organization to write into the config file.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".flyte") / "config.yaml",
    show_default=True,
    help="The file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.option(
    "--image-builder",
    "--builder",
    "builder",
    type=click.Choice(IMAGE_BUILDERS),
    default="local",
    show_default=True,
    help="Image builder to use for building images.",
)
@click.option("--registry", help="Container registry that built images are pushed to, e.g. ghcr.io/my-org.")
@click.option("--auth-type", type=click.Choice(AUTH_TYPES), help="How to authenticate to the backend (default: pkce).")
@click.option("--local-persistence", is_flag=True, help="Keep local run metadata in SQLite.")
@click.option("--local-tracked", is_flag=True, help="Report local runs to the control plane.")
@click.option("-p", "--project", help="Default project.")
@click.option("-d", "--domain", help="Default domain.")
@click.pass_context
def config(
    ctx: click.Context,
    devbox: bool,
    endpoint: str | None,
    insecure: bool,
    org: str | None,
    output: Path,
    force: bool,
    builder: str,
    registry: str | None,
    auth_type: str | None,
    local_persistence: bool,
    local_tracked: bool,
    project: str | None,
    domain: str | None,
) -> None:
    """Write a config file for the flyte CLI and flyte.init_from_config().

    The file goes to .flyte/config.yaml unless --output says otherwise; an existing file is
    kept unless --force is given.

    \b
        flyte create config --endpoint flyte.example.com --project ml --domain development
        flyte create config --devbox
    """
    from flyte.config import write_config
    from flyte.errors import InitializationError

    if devbox:
        if endpoint:
            raise click.UsageError("--devbox and --endpoint cannot be used together", ctx)
        endpoint = str(_DEVBOX["endpoint"])
        insecure = True
        project = project or str(_DEVBOX["project"])
        domain = domain or str(_DEVBOX["domain"])
    if not endpoint and not org and not local_persistence:
        raise click.UsageError("Nothing to configure: give --endpoint (or --devbox), --org or --local-persistence", ctx)
    try:
        written = write_config(
            output,
            endpoint=endpoint,
            insecure=insecure,
            project=project,
            domain=domain,
            org=org,
            builder=builder,
            force=force,
            registry=registry,
            auth_type=auth_type,
            local_persistence=local_persistence,
            local_tracked=local_tracked,
        )
    except InitializationError as e:
        fail(str(e), error=e, verbose=get_cli_config(ctx).verbose)
    click.echo(f"Wrote config file {written}")
