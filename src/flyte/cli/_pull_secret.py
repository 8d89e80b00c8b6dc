"""The value of an image pull secret: a Docker config (``{"auths": {registry: {...}}}``), built
from explicit credentials or taken from the local Docker login (``~/.docker/config.json``).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import click

__all__ = ["from_credentials", "from_docker_config"]


def from_credentials(registry: str, username: str, password: str) -> str:
    """A Docker config holding one registry's credentials.

    Example:
        >>> json.loads(from_credentials("ghcr.io", "me", "pw"))["auths"]["ghcr.io"]["auth"]
        'bWU6cHc='
    """
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"username": username, "password": password, "auth": auth}}})


def _default_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"


def from_docker_config(path: Path | None, registries: list[str] | None) -> str:
    """The ``auths`` of a Docker config file (those of ``registries`` when given).

    Raises:
        click.ClickException: the file is missing or not a Docker config, a registry asked for
            is not in it, or its credentials live in a credential helper (exit 1).
    """
    path = path or _default_config_path()
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise click.ClickException(f"Cannot read the Docker config {path}: {error.strerror}") from error
    except ValueError as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from error
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict) or not auths:
        raise click.ClickException(f"{path} has no registry logins (no 'auths'); run docker login first")
    chosen = registries or sorted(auths)
    missing = [registry for registry in chosen if registry not in auths]
    if missing:
        raise click.ClickException(f"{path} has no login for {', '.join(missing)} (it has: {', '.join(sorted(auths))})")
    helpers = [
        registry for registry in chosen if not (isinstance(auths[registry], dict) and auths[registry].get("auth"))
    ]
    if helpers:
        raise click.ClickException(
            f"The credentials of {', '.join(helpers)} are kept by a credential helper, not in {path}; "
            "give them with --registry, --username and --password"
        )
    return json.dumps({"auths": {registry: auths[registry] for registry in chosen}})
