"""``flyte start server``: run the Flyte 2 control plane on this machine.

The control plane package (``flyte_server``) is imported only when the command runs, so the rest
of the CLI and the SDK never pay for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flyte.cli._common import fail, get_cli_config

if TYPE_CHECKING:
    from flyte_server.server import ServerInfo

__all__ = ["start"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@click.group("start", help="Start Flyte services on this machine.")
def start() -> None:
    pass


@start.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True, help="The port (0: any free).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the default database, storage, keys and worker files live.  [default: ~/.flyte/server]",
)
@click.option(
    "--db",
    metavar="URL",
    help="SQLAlchemy URL of the metadata store, e.g. postgresql://user@host/flyte.  [default: SQLite in the data dir]",
)
@click.option(
    "--storage",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="Where blobs (code bundles, inputs, outputs) live.  [default: <data dir>/blobs]",
)
@click.option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", show_envvar=True, help="Endpoint of an S3-compatible store.")
@click.option("--s3-access-key-id", envvar="AWS_ACCESS_KEY_ID", show_envvar=True, help="Access key of the S3 store.")
@click.option(
    "--s3-secret-access-key", envvar="AWS_SECRET_ACCESS_KEY", show_envvar=True, help="Secret key of the S3 store."
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray", "podman", "docker"]),
    default="local",
    show_default=True,
    help="How actions run: processes on this machine, on a Ray cluster (--ray-address), or in a container of "
    "their task's image (podman/docker).",
)
@click.option(
    "--container-image",
    metavar="IMAGE",
    help="With --executor podman/docker: the image of tasks that name the SDK's default image (which cannot be "
    "pulled here).",
)
@click.option(
    "--ray-address",
    metavar="HOST:PORT|auto",
    envvar="FLYTE_RAY_ADDRESS",
    show_envvar=True,
    help="With --executor ray: the Ray cluster to run on ('auto': the one on this machine).  [default: a local "
    "Ray head started and stopped with the server]",
)
@click.option("--workers", type=click.IntRange(min=1), default=32, show_default=True, help="Actions that run at once.")
@click.option(
    "--worker-python",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Python interpreter whose environment runs the tasks.  [default: this interpreter]",
)
@click.option(
    "--worker-user",
    metavar="USER",
    envvar="FLYTE_SERVER_WORKER_USER",
    show_envvar=True,
    help="When the server runs as root: the unprivileged user tasks run as ('root': no switch).  [default: "
    "flyte-worker, created on first start]",
)
@click.option(
    "--dask-scheduler",
    metavar="ADDRESS",
    help="Dask tasks connect to this scheduler (tcp://HOST:8786).  [default: a scheduler and the task's workers per "
    "attempt]",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="Spark tasks run on this master (spark://HOST:7077, local[4]).  [default: a local Spark sized by the task's "
    "executor settings]",
)
@click.option(
    "--worker-s3-access-key-id",
    envvar="FLYTE_WORKER_AWS_ACCESS_KEY_ID",
    show_envvar=True,
    help="Access key tasks use for the S3 store (limit it to the store).  [default: the server's, with a warning]",
)
@click.option(
    "--worker-s3-secret-access-key",
    envvar="FLYTE_WORKER_AWS_SECRET_ACCESS_KEY",
    show_envvar=True,
    help="Secret key of --worker-s3-access-key-id.",
)
@click.option(
    "--secret-key",
    envvar="FLYTE_SERVER_SECRET_KEY",
    show_envvar=True,
    help="Key for signed URLs and secret encryption; give every replica the same one.  [default: a key file in the "
    "data dir]",
)
@click.option(
    "--auth", is_flag=True, help="Require an API key / OAuth2 token on every call (on by default off loopback)."
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve a non-loopback --host without authentication: anyone who reaches the port runs code as you.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A Host name the server answers to besides the loopback ones (repeatable; '*': any).",
)
@click.option(
    "--oidc-issuer", metavar="URL", help="Also trust access tokens of this OpenID Connect issuer (turns on --auth)."
)
@click.option("--oidc-audience", metavar="AUD", help="The audience the OIDC issuer's tokens must name.")
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM certificate: serve HTTPS."
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM key of --tls-cert.")
@click.option(
    "--log-level", type=click.Choice(_LOG_LEVELS), default="info", show_default=True, help="Server log level."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="key=value or JSON."
)
@click.option(
    "--strict-images",
    is_flag=True,
    expose_value=False,
    callback=lambda _ctx, _param, value: _strict_images(value),
    help="Local executor: fail tasks whose image has layers a virtualenv cannot hold (apt packages, commands, "
    "Dockerfile bases) instead of running them in a venv of the image's Python packages.",
)
@click.option(
    "--park-after",
    metavar="SECONDS|off",
    expose_value=False,
    callback=lambda _ctx, _param, value: _park_after(value),
    help="A task waiting on a condition or a durable sleep longer than this ends its attempt and is relaunched "
    "(replayed) when it may go on, holding no process meanwhile; 'off' keeps waits in their processes.  "
    "[default: 2, or FLYTE_SERVER_PARK_AFTER]",
)
@click.pass_context
def server(
    ctx: click.Context,
    host: str,
    port: int,
    data_dir: Path | None,
    db: str | None,
    storage: str | None,
    s3_endpoint: str | None,
    s3_access_key_id: str | None,
    s3_secret_access_key: str | None,
    executor: str,
    container_image: str | None,
    ray_address: str | None,
    workers: int,
    worker_python: Path | None,
    worker_user: str | None,
    dask_scheduler: str | None,
    spark_master: str | None,
    worker_s3_access_key_id: str | None,
    worker_s3_secret_access_key: str | None,
    secret_key: str | None,
    auth: bool,
    insecure_no_auth: bool,
    allowed_hosts: tuple[str, ...],
    oidc_issuer: str | None,
    oidc_audience: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    log_level: str,
    log_format: str,
) -> None:
    """Run the Flyte control plane: every service on one port, until Ctrl-C or SIGTERM.

    \b
    Examples:
        flyte start server
        flyte start server --port 9000 --data-dir ./flyte-data
        flyte start server --host 0.0.0.0 --allowed-host flyte.example.com --tls-cert cert.pem --tls-key key.pem
        flyte start server --db postgresql://postgres@localhost/flyte --storage s3://bucket/flyte \\
            --s3-endpoint http://localhost:9000
    """

    from flyte_server.config import ServerConfig, default_data_dir
    from flyte_server.handlers import ClusterOptions
    from flyte_server.logging import configure_logging
    from flyte_server.server import ServerStartError, run_server, serve

    verbose = get_cli_config(ctx).verbose
    auth = _auth_wanted(host, auth=auth or oidc_issuer is not None, insecure_no_auth=insecure_no_auth)
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if auth and tls_cert is None and not _is_loopback(host):
        click.echo(
            "WARNING: serving without TLS: API keys and tokens cross the network in the clear; "
            "use --tls-cert/--tls-key or a TLS-terminating proxy.",
            err=True,
        )
    if ray_address and executor != "ray":
        raise click.UsageError("--ray-address needs --executor ray")
    if container_image and executor not in ("podman", "docker"):
        raise click.UsageError("--container-image needs --executor podman or docker")
    configure_logging(log_level, log_format)
    _warn_about_secrets_in_argv(ctx)
    config = ServerConfig(
        host=host,
        port=port,
        data_dir=(data_dir or default_data_dir()).expanduser().absolute(),
        db=db,
        storage=storage,
        s3_endpoint=s3_endpoint,
        s3_access_key_id=s3_access_key_id,
        s3_secret_access_key=s3_secret_access_key,
        executor=executor,
        ray_address=ray_address,
        container_image=container_image,
        workers=workers,
        worker_python=str(worker_python.absolute()) if worker_python else sys.executable,
        worker_user=worker_user,
        clusters=ClusterOptions(dask_scheduler=dask_scheduler, spark_master=spark_master),
        worker_s3_access_key_id=worker_s3_access_key_id,
        worker_s3_secret_access_key=worker_s3_secret_access_key,
        log_level=log_level,
        secret_key=secret_key,
        auth=auth,
        allowed_hosts=allowed_hosts,
        oidc_issuer=oidc_issuer,
        oidc_audience=oidc_audience,
        tls_cert=tls_cert.absolute() if tls_cert else None,
        tls_key=tls_key.absolute() if tls_key else None,
    )
    try:
        run_server(serve(config, on_ready=_print_banner))
    except ServerStartError as e:
        fail(str(e), error=e, verbose=verbose)


def _strict_images(value: bool) -> None:
    """--strict-images: the server's launcher reads FLYTE_STRICT_IMAGES (flyte._internal.venvs)."""
    if value:
        import os

        os.environ["FLYTE_STRICT_IMAGES"] = "1"


def _park_after(value: str | None) -> None:
    """--park-after: the server's launcher reads FLYTE_SERVER_PARK_AFTER (flyte_server.engine.launch)."""
    if value is None:
        return
    cleaned = value.strip().lower()
    if cleaned not in ("off", "never"):
        try:
            float(cleaned)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is neither a number of seconds nor 'off'", param_hint="--park-after"
            ) from None
    import os

    os.environ["FLYTE_SERVER_PARK_AFTER"] = cleaned


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _auth_wanted(host: str, *, auth: bool, insecure_no_auth: bool) -> bool:
    """Whether to turn auth on: asked for, or the server is reachable from other machines."""
    if auth and insecure_no_auth:
        raise click.UsageError("--auth and --insecure-no-auth contradict each other")
    if auth or _is_loopback(host):
        return auth
    if insecure_no_auth:
        click.echo(
            f"WARNING: serving {host} without authentication (--insecure-no-auth): anyone who can reach this port "
            "can run code as this user and read every secret.",
            err=True,
        )
        return False
    return True


def _warn_about_secrets_in_argv(ctx: click.Context) -> None:
    """Secrets given as options are in ``/proc/<pid>/cmdline``, which every local user (and task) can read."""
    from click.core import ParameterSource

    for name, variable in (
        ("secret_key", "FLYTE_SERVER_SECRET_KEY"),
        ("s3_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("worker_s3_secret_access_key", "FLYTE_WORKER_AWS_SECRET_ACCESS_KEY"),
    ):
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            option = "--" + name.replace("_", "-")
            click.echo(
                f"Warning: {option} on the command line is visible to every local user in the process list; "
                f"set {variable} instead",
                err=True,
            )


def _print_banner(info: ServerInfo) -> None:
    lines = [
        f"Flyte server ready at {info.url}",
        f"  endpoint: {info.endpoint}",
        f"  console:  {info.console_url}",
        f"  data dir: {info.data_dir}",
        "Point the SDK and the CLI at it with:",
        f"  flyte create config --endpoint {info.endpoint} --insecure --project flytesnacks --domain development",
    ]
    if info.url.startswith("https://"):
        lines[-1] = lines[-1].replace(" --insecure", "")
    if info.admin_api_key:
        lines += [
            "Authentication is on. The admin API key (shown once; also in "
            f"{info.data_dir / 'admin-api-key'}, mode 0600):",
            f"  {info.admin_api_key}",
            f"  export FLYTE_API_KEY=$(cat {info.data_dir / 'admin-api-key'})",
        ]
    click.echo("\n".join(lines))
    sys.stdout.flush()
