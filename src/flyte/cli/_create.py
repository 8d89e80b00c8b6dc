"""``flyte create config|project|secret|trigger``: a config file, or resources on the control plane."""

from __future__ import annotations

from pathlib import Path

import click

from flyte.cli._common import AUTH_TYPES, IMAGE_BUILDERS, fail, get_cli_config, init_remote, remote_errors

__all__ = ["create"]

_DEVBOX = {"endpoint": "localhost:30080", "insecure": True, "project": "flytesnacks", "domain": "development"}


@click.group("create", help="Create a config file, or a project, secret or trigger on the control plane.")
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


@create.command("project")
@click.argument("project_id", metavar="[ID]", required=False)
@click.option("--id", "id_option", metavar="ID", help="The project's id (instead of the ID argument).")
@click.option("--name", help="Display name (default: the id).")
@click.option("--description", default="", help="What the project is for.")
@click.option("-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label; repeat for several.")
@click.pass_context
def create_project(
    ctx: click.Context,
    project_id: str | None,
    id_option: str | None,
    name: str | None,
    description: str,
    labels: tuple[str, ...],
) -> None:
    """Create the project ID (lower-case letters, digits and '-'), given as argument or --id.

    \b
        flyte create project ml --description "Model training"
        flyte create project --id ml --name "Machine learning" -l team=ml
    """
    import flyte.remote

    if project_id and id_option and project_id != id_option:
        raise click.UsageError(f"Two ids given: {project_id!r} and --id {id_option!r}; give one", ctx)
    project_id = project_id or id_option
    if not project_id:
        raise click.UsageError("Missing the project id: flyte create project ID (or --id ID)", ctx)

    parsed: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param_hint="--label")
        parsed[key] = value
    cli = get_cli_config(ctx)
    init_remote(cli, need_scope=False)
    with remote_errors(cli):
        project = flyte.remote.Project.create(project_id, name=name, description=description, labels=parsed)
    click.echo(f"Created project {project.id}")


@create.command("secret")
@click.argument("name")
@click.option("--value", help="The secret's value; prompted for when neither --value nor --from-file is given.")
@click.option(
    "--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Read the value from a file."
)
@click.option(
    "--type",
    "secret_type",
    type=click.Choice(["regular", "image_pull"]),
    default="regular",
    show_default=True,
    help="The kind of secret.",
)
@click.option(
    "--from-docker-config",
    is_flag=True,
    help="An image pull secret from your Docker logins (~/.docker/config.json, or $DOCKER_CONFIG).",
)
@click.option(
    "--docker-config-path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Docker config file to read (with --from-docker-config).",
)
@click.option("--registries", help="Comma-separated registries to take from the Docker config (default: all).")
@click.option("--registry", help="An image pull secret for this registry (e.g. ghcr.io), with --username.")
@click.option("--username", help="User name at --registry.")
@click.option("--password", help="Password or token at --registry; prompted for when not given.")
@click.option("--cluster-pool", help="A cluster pool to scope the secret to (this control plane has none).")
@click.option("-p", "--project", help="Project of the secret; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the secret; overrides the config file.")
@click.pass_context
def create_secret(
    ctx: click.Context,
    name: str,
    value: str | None,
    from_file: Path | None,
    secret_type: str,
    from_docker_config: bool,
    docker_config_path: Path | None,
    registries: str | None,
    registry: str | None,
    username: str | None,
    password: str | None,
    cluster_pool: str | None,
    project: str | None,
    domain: str | None,
) -> None:
    """Create the secret NAME; tasks read it with flyte.Secret(key=NAME).

    An image pull secret (--type image_pull) holds registry credentials: from your Docker logins
    (--from-docker-config [--registries ghcr.io,docker.io]) or given (--registry, --username,
    --password).

    \b
        flyte create secret db-password --value s3cr3t
        flyte create secret tls-key --from-file key.pem
        flyte create secret pull --type image_pull --registry ghcr.io --username me
        flyte create secret pull --type image_pull --from-docker-config --registries ghcr.io
    """
    import flyte.remote
    from flyte.cli import _pull_secret

    sources = [
        option
        for option, given in (
            ("--value", value is not None),
            ("--from-file", from_file is not None),
            ("--from-docker-config", from_docker_config),
            ("--registry", registry is not None),
        )
        if given
    ]
    if len(sources) > 1:
        raise click.UsageError(f"{' and '.join(sources)} cannot be used together", ctx)
    for option, given, needed, needed_name in (
        ("--docker-config-path", docker_config_path is not None, from_docker_config, "--from-docker-config"),
        ("--registries", registries is not None, from_docker_config, "--from-docker-config"),
        ("--username", username is not None, registry is not None, "--registry"),
        ("--password", password is not None, registry is not None, "--registry"),
    ):
        if given and not needed:
            raise click.UsageError(f"{option} needs {needed_name}", ctx)
    pull = from_docker_config or registry is not None
    if pull and secret_type != "image_pull":
        if ctx.get_parameter_source("secret_type") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(
                "--from-docker-config and --registry make image pull secrets (--type image_pull)", ctx
            )
        secret_type = "image_pull"
    if registry is not None and not username:
        raise click.UsageError("--registry needs --username", ctx)
    secret: str | bytes
    if from_file is not None:
        secret = from_file.read_bytes()
    elif value is not None:
        secret = value
    elif from_docker_config:
        wanted = [item.strip() for item in (registries or "").split(",") if item.strip()]
        secret = _pull_secret.from_docker_config(docker_config_path, wanted or None)
    elif registry is not None and username:
        password = (
            password
            if password is not None
            else click.prompt(f"Password for {username} at {registry}", hide_input=True)
        )
        secret = _pull_secret.from_credentials(registry, username, password)
    elif secret_type == "image_pull":
        registry = click.prompt("Registry (e.g. ghcr.io)")
        username = click.prompt(f"User name at {registry}")
        password = click.prompt(f"Password for {username} at {registry}", hide_input=True)
        secret = _pull_secret.from_credentials(registry, username, password)
    else:
        secret = click.prompt("Secret value", hide_input=True)
    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        flyte.remote.Secret.create(
            name, secret, type="image_pull" if secret_type == "image_pull" else "regular", cluster_pool=cluster_pool
        )
    click.echo(f"Created secret {name}")


@create.command("trigger")
@click.argument("task_name")
@click.argument("name")
@click.option(
    "--schedule", help="A cron schedule (UTC), e.g. '0 2 * * *'; without it the trigger never fires by itself."
)
@click.option("--description", default="", help="What the trigger is for.")
@click.option("--auto-activate/--no-auto-activate", default=True, show_default=True, help="Activate it now.")
@click.option(
    "--trigger-time-var",
    default="trigger_time",
    show_default=True,
    help="The task input that receives the fire time (ignored when the task has no such input).",
)
@click.option("-p", "--project", help="Project of the task; overrides the config file.")
@click.option("-d", "--domain", help="Domain of the task; overrides the config file.")
@click.pass_context
def create_trigger(
    ctx: click.Context,
    task_name: str,
    name: str,
    schedule: str | None,
    description: str,
    auto_activate: bool,
    trigger_time_var: str,
    project: str | None,
    domain: str | None,
) -> None:
    """Create the trigger NAME for the deployed task TASK_NAME (its latest version).

    \b
        flyte create trigger my_env.main nightly --schedule "0 2 * * *"
    """
    import flyte
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, project=project, domain=domain)
    with remote_errors(cli):
        details = flyte.remote.Task.get(task_name, auto_version="latest").fetch()
        inputs = {trigger_time_var: flyte.TriggerTime} if trigger_time_var in details.inputs else None
        spec = flyte.Trigger(
            name,
            flyte.Cron(schedule) if schedule else None,
            description=description,
            auto_activate=auto_activate,
            inputs=inputs,
        )
        trigger = flyte.remote.Trigger.create(spec, task_name)
    click.echo(f"Created trigger {trigger.name} of {trigger.task_name} ({trigger.schedule or 'no schedule'})")
