"""Writing a config file in the format ``flyte create config`` produces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flyte.config._config import DEFAULT_IMAGE_BUILDER, canonical_auth_type
from flyte.errors import InitializationError

# host, host:port, [ipv6] or [ipv6]:port. Anything else with a colon is a scheme we do not know.
_AUTHORITY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]/]+)(:\d+)?$")


def normalize_endpoint(endpoint: str) -> str:
    """Write an endpoint the way config files spell it: ``dns:///host[:port][/path]``.

    Accepts ``dns:///host``, ``http://host``, ``https://host`` and a bare ``host[:port]``;
    trailing slashes are dropped. The scheme says nothing about TLS once normalised: use
    ``admin.insecure`` for a plain-text backend.

    Raises:
        InitializationError: another scheme, or no host.

    Example:
        >>> normalize_endpoint("https://flyte.example.com/")
        'dns:///flyte.example.com'
        >>> normalize_endpoint("localhost:30080")
        'dns:///localhost:30080'
    """
    text = endpoint.strip()
    rest = text
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if scheme == "dns":
            if not rest.startswith("/"):
                raise _bad_endpoint(endpoint)
            rest = rest[1:]
        elif scheme not in ("http", "https"):
            raise _bad_endpoint(endpoint)
    host = rest.rstrip("/")
    authority = host.split("/", 1)[0]
    if not authority or any(c.isspace() for c in host) or not _AUTHORITY.match(authority):
        raise _bad_endpoint(endpoint)
    return f"dns:///{host}"


def org_from_endpoint(endpoint: str) -> str | None:
    """The organisation a hosted endpoint implies: the first label of a host with three or more.

    ``flyte create config`` writes it as ``task.org`` when no org is given. IP addresses and
    short names (``localhost``, ``example.com``) imply none.

    Example:
        >>> org_from_endpoint("dns:///acme.hosted.example.com:443")
        'acme'
        >>> org_from_endpoint("localhost:30080") is None
        True
    """
    authority = normalize_endpoint(endpoint).removeprefix("dns:///").split("/", 1)[0]
    host = authority.rsplit(":", 1)[0] if not authority.startswith("[") else ""
    labels = host.split(".")
    if len(labels) < 3 or all(label.isdigit() for label in labels):
        return None
    return labels[0] or None


def _bad_endpoint(endpoint: str) -> InitializationError:
    return InitializationError(
        "ConfigFileError",
        "user",
        f"Invalid endpoint {endpoint!r}: expected dns:///<host>[:port], https://<host>, http://<host> or <host>[:port]",
    )


def write_config(
    path: Path,
    *,
    endpoint: str | None,
    insecure: bool = False,
    project: str | None = None,
    domain: str | None = None,
    org: str | None = None,
    builder: str | None = None,
    force: bool = False,
    registry: str | None = None,
    auth_type: str | None = None,
    local_persistence: bool = False,
    local_tracked: bool = False,
) -> Path:
    """Write a Flyte config file, in the layout ``flyte create config`` uses.

    Only settings that are given are written (``insecure`` and the local flags only when
    true); ``image.builder`` is always written, ``local`` when ``builder`` is ``None``. The
    endpoint is normalised with :func:`normalize_endpoint`. Without an ``org``, the one the
    endpoint implies (:func:`org_from_endpoint`) is written. Parent folders are created.

    Args:
        path: the file to write (``flyte create config`` defaults to ``.flyte/config.yaml``).
        endpoint: the backend address, or ``None`` for a file without an ``admin`` section.
        insecure: connect without TLS.
        project: default project.
        domain: default domain.
        org: organisation; ``None`` takes it from the endpoint's host, if it implies one.
        builder: image builder (``local``, ``local-podman`` or ``remote``).
        force: replace an existing file.
        registry: the registry images are pushed to.
        auth_type: an auth type or one of its CLI spellings (``client-secret``, ``headless``, ...).
        local_persistence: keep local run metadata in SQLite.
        local_tracked: report local runs to the control plane.

    Returns:
        The path written.

    Raises:
        InitializationError: the file exists and ``force`` is false, ``path`` is a directory,
            the endpoint is invalid, or nothing at all would be configured.

    Example:
        >>> write_config(Path(".flyte/config.yaml"), endpoint="localhost:30080", insecure=True,
        ...              project="flytesnacks", domain="development")  # doctest: +SKIP
        PosixPath('.flyte/config.yaml')
    """
    import yaml  # deferred: `import flyte.config` must stay cheap

    path = Path(path)
    if not endpoint and not org and not local_persistence:
        raise InitializationError(
            "ConfigFileError", "user", "Nothing to configure: give at least an endpoint, an org or local persistence"
        )
    if path.is_dir():
        raise InitializationError(
            "ConfigFileError", "user", f"Cannot write config file {path}: it is a directory; give a file name"
        )
    if path.exists() and not force:
        raise InitializationError(
            "ConfigFileError", "user", f"Config file {path} already exists; pass force=True (--force) to overwrite it"
        )

    data: dict[str, Any] = {}
    admin: dict[str, Any] = {}
    if endpoint:
        admin["endpoint"] = normalize_endpoint(endpoint)
        org = org or org_from_endpoint(endpoint)
    if insecure:
        admin["insecure"] = True
    if auth_type:
        admin["authType"] = canonical_auth_type(auth_type)
    if admin:
        data["admin"] = admin
    image: dict[str, Any] = {"builder": builder or DEFAULT_IMAGE_BUILDER}
    if registry:
        image["registry"] = registry
    data["image"] = image
    local: dict[str, Any] = {}
    if local_persistence:
        local["persistence"] = True
    if local_tracked:
        local["tracked"] = True
    if local:
        data["local"] = local
    task = {k: v for k, v in (("org", org), ("project", project), ("domain", domain)) if v}
    if task:
        data["task"] = task

    text = yaml.safe_dump(data, sort_keys=True, default_flow_style=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InitializationError(
            "ConfigFileError", "user", f"Cannot write config file {path}: {e.strerror or e}"
        ) from e
    return path
