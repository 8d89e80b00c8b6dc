"""``flyte whoami``: the user the control plane sees."""

from __future__ import annotations

import click

from flyte.cli._common import emit_one, get_cli_config, init_remote, remote_errors

__all__ = ["whoami"]


@click.command("whoami")
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Show the user the control plane knows you as."""
    import flyte.remote

    cli = get_cli_config(ctx)
    init_remote(cli, need_scope=False)
    with remote_errors(cli):
        user = flyte.remote.User.get()
    emit_one(
        cli,
        "User",
        {"subject": user.subject, "name": user.name, "email": user.email, "username": user.preferred_username},
        user.to_dict(),
    )
