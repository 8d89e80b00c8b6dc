"""``flyte create api-key``, ``flyte get api-key``, ``flyte delete api-key``: the server's API keys.

They call ``flyte.auth.ApiKeyService`` (Connect unary, JSON bodies; see ``docs/auth.md``) as an
admin: with the API key in ``$FLYTE_API_KEY`` or the client credentials of the config file.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

import click

from flyte.cli._common import EXIT_NOT_FOUND, emit_rows, fail, get_cli_config

__all__ = ["apply_api_key_env", "register"]

_ROLES = ("admin", "user", "viewer")


def _connection(ctx: click.Context) -> tuple[str, Any]:
    """The server's base URL and the token source of the caller's credentials."""
    from flyte.remote._client._auth import token_source
    from flyte.remote._client._endpoint import normalize_endpoint

    cli = get_cli_config(ctx)
    settings = cli.init_kwargs()
    api_key = settings.get("api_key") or os.environ.get("FLYTE_API_KEY")
    endpoint = settings.get("endpoint")
    if api_key:
        settings["api_key"] = api_key
        if not endpoint:
            endpoint = _endpoint_of(api_key)
    if not endpoint:
        fail("No Flyte endpoint is configured; set FLYTE_API_KEY to an admin API key, or pass --endpoint")
    try:
        url = normalize_endpoint(endpoint, insecure=bool(settings.get("insecure")))
    except ValueError as error:
        fail(str(error))
    source = token_source(url, settings, {})
    if source is None:
        fail("Managing API keys needs an admin API key: set FLYTE_API_KEY (e.g. to <data-dir>/admin-api-key)")
    return url, source


def apply_api_key_env(settings: dict[str, Any], *, explicit_endpoint: str | None = None) -> None:
    """Use ``$FLYTE_API_KEY`` unless the config names other credentials, as Flyte 2's CLI does.

    The key's endpoint replaces the config file's; an ``--endpoint`` option still wins.
    """
    api_key = os.environ.get("FLYTE_API_KEY")
    if not api_key or settings.get("api_key") or settings.get("client_credentials_secret"):
        return
    settings["api_key"] = api_key
    settings["auth_type"] = "ClientSecret"
    if not explicit_endpoint:
        endpoint = _endpoint_of(api_key)
        settings["endpoint"] = endpoint
        settings["insecure"] = endpoint.startswith("http://")


def _endpoint_of(api_key: str) -> str:
    import base64
    import binascii

    try:
        parts = base64.b64decode(api_key.strip(), validate=True).decode().rsplit(":", 3)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        fail("FLYTE_API_KEY is not an API key (base64 of endpoint:client_id:client_secret:org)")
    if len(parts) != 4:
        fail("FLYTE_API_KEY is not an API key (base64 of endpoint:client_id:client_secret:org)")
    return parts[0]


def _call(ctx: click.Context, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from flyte.errors import InitializationError

    url, source = _connection(ctx)

    async def call() -> httpx.Response:
        token = await source.token()
        verify = getattr(source, "verify", True)
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)
        async with httpx.AsyncClient(timeout=30.0, verify=verify) as http:
            return await http.post(
                f"{url}/flyte.auth.ApiKeyService/{method}",
                json=payload,
                headers={"authorization": f"Bearer {token}"},
            )

    try:
        response = asyncio.run(call())
    except InitializationError as error:
        fail(str(error))
    except (httpx.HTTPError, OSError) as error:
        fail(f"Cannot reach the Flyte control plane at {url} ({error})")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict):
        return body
    message = body.get("message") if isinstance(body, dict) else None
    if response.status_code == 404 and body.get("code") != "not_found":
        fail(f"{url} does not manage API keys: start it with --auth")
    fail(message or f"HTTP {response.status_code}", exit_code=EXIT_NOT_FOUND if response.status_code == 404 else 1)


@click.command("api-key")
@click.argument("name")
@click.option("--role", type=click.Choice(_ROLES), default="user", show_default=True, help="What the key may do.")
@click.option("--project", "projects", multiple=True, help="Limit the key to this project (repeatable).")
@click.pass_context
def create_api_key(ctx: click.Context, name: str, role: str, projects: tuple[str, ...]) -> None:
    """Create an API key and print it (only this once) on stdout.

    \b
    Roles: viewer (read), user (run, deploy, abort), admin (also secrets, projects, API keys).
    Use it as FLYTE_API_KEY, or with flyte.init_from_api_key().

    \b
    Examples:
        flyte create api-key ci --role user --project ml
        export FLYTE_API_KEY=$(flyte create api-key alice --role viewer)
    """
    body = _call(ctx, "CreateApiKey", {"name": name, "role": role, "projects": list(projects)})
    click.echo(f"Created API key {name!r} (role {role}); it is shown only this once.", err=True)
    click.echo(body["apiKey"])


@click.command("api-key")
@click.pass_context
def get_api_key(ctx: click.Context) -> None:
    """List the API keys (names, roles, projects; never their secrets)."""
    keys = _call(ctx, "ListApiKeys", {}).get("keys", [])
    rows = [
        {
            "name": key.get("name"),
            "role": key.get("role"),
            "projects": ", ".join(key.get("projects") or []) or "(all)",
            "created_by": key.get("createdBy"),
            "created_at": key.get("createdAt"),
        }
        for key in keys
    ]
    columns = [
        ("name", "Name"),
        ("role", "Role"),
        ("projects", "Projects"),
        ("created_by", "Created by"),
        ("created_at", "Created"),
    ]
    emit_rows(get_cli_config(ctx), "API keys", columns, rows, documents=keys)


@click.command("api-key")
@click.argument("name")
@click.pass_context
def delete_api_key(ctx: click.Context, name: str) -> None:
    """Revoke an API key: its tokens stop working."""
    _call(ctx, "DeleteApiKey", {"name": name})
    click.echo(f"Deleted API key {name!r}.", err=True)


def register(create: click.Group, get: click.Group, delete: click.Group) -> None:
    """Add the api-key commands to the create, get and delete groups."""
    create.add_command(create_api_key)
    get.add_command(get_api_key)
    delete.add_command(delete_api_key)
