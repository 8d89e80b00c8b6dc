"""The other ways to call ``flyte.init``: from an API key, inside a task, with passthrough auth.

Each one works out the endpoint and credentials and then calls :func:`flyte.init`, so that
everything else (``flyte.run``, ``flyte.remote``) sees one configuration.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyte import _initialize
from flyte._initialize import get_init_config
from flyte._internal.syncify import with_aio
from flyte.errors import InitializationError

__all__ = [
    "decode_api_key",
    "encode_api_key",
    "init",
    "init_from_api_key",
    "init_from_config",
    "init_in_cluster",
    "init_passthrough",
    "is_control_plane_available",
]

# flyte.init and flyte.init_from_config, with the ``.aio`` form Flyte 2 gives them.
init = with_aio(_initialize.init)
init_from_config = with_aio(_initialize.init_from_config)

API_KEY_ENV = "FLYTE_API_KEY"
"""Where :func:`init_from_api_key` looks for the key when none is given."""


def encode_api_key(endpoint: str, client_id: str, client_secret: str, org: str | None = None) -> str:
    """The encoded API key Flyte 2 hands out: base64 of ``endpoint:client_id:client_secret:org``.

    Example:
        >>> key = encode_api_key("dns:///flyte.example.com", "ci", "s3cret", "acme")
        >>> decode_api_key(key)
        ('dns:///flyte.example.com', 'ci', 's3cret', 'acme')
    """
    return base64.b64encode(f"{endpoint}:{client_id}:{client_secret}:{org or ''}".encode()).decode()


def decode_api_key(api_key: str) -> tuple[str, str, str, str | None]:
    """``(endpoint, client_id, client_secret, org)`` from an encoded API key.

    The endpoint may itself contain colons (``dns:///host:443``), so the key is split from the
    right; an empty or ``"None"`` organisation reads as ``None``.

    Raises:
        InitializationError: the key is not base64 text of four ``:``-separated parts.
    """
    try:
        text = base64.b64decode(api_key.strip().encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise InitializationError("InvalidApiKeyError", "user", "The API key is not valid base64 text") from e
    parts = text.rsplit(":", 3)
    if len(parts) != 4 or not parts[0] or not parts[1]:
        raise InitializationError(
            "InvalidApiKeyError", "user", "The API key must encode 'endpoint:client_id:client_secret:org'"
        )
    endpoint, client_id, client_secret, org = parts
    return endpoint, client_id, client_secret, (org if org and org != "None" else None)


@with_aio
def init_from_api_key(
    api_key: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: Path | None = None,
    log_level: int | None = None,
    log_format: str | None = None,
    storage: Any = None,
    batch_size: int = 1000,
    image_builder: str = "local",
    images: dict[str, str] | None = None,
    sync_local_sys_paths: bool = True,
    insecure_skip_verify: bool = False,
    ca_cert_file_path: str | None = None,
) -> None:
    """Configure Flyte from an encoded API key (``$FLYTE_API_KEY`` when none is given).

    The key carries the endpoint, a client id and secret, and the organisation; the client
    authenticates with the client-credentials flow.

    Raises:
        InitializationError: no key was given and ``$FLYTE_API_KEY`` is unset, or the key is malformed.

    Example:
        >>> flyte.init_from_api_key(project="ml", domain="development")  # doctest: +SKIP
    """
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise InitializationError("MissingApiKeyError", "user", f"No API key: pass api_key=... or set ${API_KEY_ENV}")
    endpoint, client_id, client_secret, org = decode_api_key(key)
    extra: dict[str, Any] = {
        "auth_type": "ClientSecret",
        "client_id": client_id,
        "client_credentials_secret": client_secret,
        "api_key": key,
        "batch_size": batch_size,
        "sync_local_sys_paths": sync_local_sys_paths,
    }
    if log_format is not None:
        extra["log_format"] = log_format
    if insecure_skip_verify:
        extra["insecure_skip_verify"] = True
    if ca_cert_file_path is not None:
        extra["ca_cert_file_path"] = ca_cert_file_path
    init(
        org=org,
        project=project,
        domain=domain,
        root_dir=root_dir,
        log_level=log_level,
        endpoint=endpoint,
        insecure=endpoint.startswith("http://"),
        images=images,
        image_builder=image_builder,
        storage=storage,
        **extra,
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _in_cluster_settings(
    environ: Mapping[str, str],
    org: str | None,
    project: str | None,
    domain: str | None,
    endpoint: str | None,
    insecure: bool,
) -> dict[str, Any]:
    endpoint = endpoint or environ.get("_U_EP_OVERRIDE") or environ.get("FLYTE_ADMIN_ENDPOINT") or None
    return {
        "org": org or environ.get("_U_ORG_NAME") or None,
        "project": project or environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT") or None,
        "domain": domain or environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN") or None,
        "endpoint": endpoint,
        "insecure": insecure or _truthy(environ.get("_U_INSECURE")),
    }


@with_aio
def init_in_cluster(
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Configure Flyte from inside a running action, from what the control plane told it.

    The endpoint comes from ``$_U_EP_OVERRIDE`` (or ``$FLYTE_ADMIN_ENDPOINT``), the project and
    domain from ``$FLYTE_INTERNAL_EXECUTION_PROJECT`` / ``_DOMAIN``, the organisation from
    ``$_U_ORG_NAME``; explicit arguments win. An API key (the argument, or the one the control
    plane injects as ``$_UNION_EAGER_API_KEY`` / ``$EAGER_API_KEY``) supplies credentials.

    Returns:
        The settings used: ``org``, ``project``, ``domain``, ``endpoint``, ``insecure``.

    Raises:
        InitializationError: no endpoint is known (not inside an action of a control plane).

    Example:
        >>> settings = flyte.init_in_cluster()  # doctest: +SKIP
    """
    environ = os.environ
    settings = _in_cluster_settings(environ, org, project, domain, endpoint, insecure)
    key = api_key or environ.get("_UNION_EAGER_API_KEY") or environ.get("EAGER_API_KEY")
    extra: dict[str, Any] = {}
    if key:
        key_endpoint, client_id, client_secret, key_org = decode_api_key(key)
        settings["endpoint"] = settings["endpoint"] or key_endpoint
        settings["org"] = settings["org"] or key_org
        extra = {"auth_type": "ClientSecret", "client_id": client_id, "client_credentials_secret": client_secret}
    if not settings["endpoint"]:
        raise InitializationError(
            "MissingEndpointOrApiKeyError",
            "user",
            "Not inside an action of a control plane: $_U_EP_OVERRIDE is unset; pass endpoint=... or api_key=...",
        )
    init(**settings, **extra)
    return settings


@with_aio
def init_passthrough(
    endpoint: str | None = None,
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Configure Flyte to send whatever credentials the caller attaches, and no others.

    Requests carry the metadata set with ``flyte.remote.auth_metadata(...)``; the client adds no
    authentication of its own. Inside an action the endpoint defaults to ``$_U_EP_OVERRIDE``.

    Returns:
        The settings used, plus ``auth_type="Passthrough"``.

    Raises:
        InitializationError: no endpoint was given or found in the environment.

    Example:
        >>> flyte.init_passthrough("flyte.example.com", project="ml")  # doctest: +SKIP
    """
    settings = _in_cluster_settings(os.environ, org, project, domain, endpoint, insecure)
    if not settings["endpoint"]:
        raise InitializationError(
            "MissingEndpointError", "user", "init_passthrough needs an endpoint (or $_U_EP_OVERRIDE inside an action)"
        )
    init(**settings, auth_type="Passthrough")
    return {**settings, "auth_type": "Passthrough"}


def is_control_plane_available() -> bool:
    """Whether ``flyte.run`` here would submit to a control plane.

    Inside an action of a control plane: ``True``. Inside a task run in local mode: ``False``,
    even if an endpoint is configured (a local run stays local). Outside any task: whether
    ``flyte.init`` (or a variant) was given an endpoint.

    Example:
        >>> import flyte
        >>> flyte.init()
        >>> flyte.is_control_plane_available()
        False
    """
    from flyte._context import ctx

    task_context = ctx()
    if task_context:
        return task_context.is_in_cluster()
    return bool(get_init_config().endpoint)
