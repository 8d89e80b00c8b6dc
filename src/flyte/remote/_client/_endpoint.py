"""Endpoint normalisation: what users write (``localhost:8090``, ``dns:///host:port``) → a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_insecure_host", "normalize_endpoint"]


def normalize_endpoint(endpoint: str, *, insecure: bool = False) -> str:
    """The base URL Connect clients post to, e.g. ``http://localhost:8090``.

    Accepts ``host:port``, ``dns:///host:port`` (gRPC style), and ``http(s)://host[:port][/prefix]``.
    Without a scheme, ``insecure`` picks ``http`` over ``https``; an explicit scheme wins.

    Raises:
        ValueError: the endpoint is empty or has no host.

    Example:
        >>> normalize_endpoint("localhost:8090", insecure=True)
        'http://localhost:8090'
        >>> normalize_endpoint("dns:///flyte.example.com")
        'https://flyte.example.com'
        >>> normalize_endpoint("http://127.0.0.1:8090/")
        'http://127.0.0.1:8090'
    """
    text = endpoint.strip()
    if not text:
        raise ValueError("The Flyte endpoint is empty; pass a host:port such as 'localhost:8090'")
    if text.startswith("dns:///"):
        text = text[len("dns:///") :]
    elif text.startswith("dns://"):
        text = text[len("dns://") :]
    if "://" not in text:
        text = f"{'http' if insecure else 'https'}://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Cannot use {endpoint!r} as a Flyte endpoint; expected host:port or http(s)://host:port")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_insecure_host(endpoint: str) -> bool:
    """Whether an in-cluster endpoint is plain HTTP by convention (``localhost`` or ``docker`` hosts)."""
    return "localhost" in endpoint or "docker" in endpoint
