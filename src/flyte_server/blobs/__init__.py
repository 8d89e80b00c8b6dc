"""The object store of the control plane, behind one Protocol: a local directory or S3.

Clients upload code bundles and inputs through signed URLs; workers read and write through the
``native_url`` (a path or an ``s3://`` URI) with fsspec. The server itself only writes small
objects (offloaded inputs) and reads outputs to classify attempts.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["BlobStore", "SignedUpload"]


class SignedUpload(Protocol):
    """Where a client PUTs one object."""

    url: str
    """The URL to PUT to."""
    headers: dict[str, str]
    """Headers the PUT must carry."""
    native_url: str
    """The object's location as workers read it."""


@runtime_checkable
class BlobStore(Protocol):
    """Object storage addressed by keys (``a/b/c.pb``) relative to the store's root."""

    def native_url(self, key: str) -> str:
        """The URI workers use to read/write ``key`` (an absolute path or ``s3://...``)."""
        ...

    def key_of(self, native_url: str) -> str | None:
        """The key of a URI inside this store, or ``None`` when the URI is elsewhere."""
        ...

    async def put(self, key: str, data: bytes) -> str:
        """Write ``data`` under ``key``; returns its native URL."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None`` when there is no such object."""
        ...

    async def put_upload(self, key: str, data: bytes) -> bool:
        """Write ``data`` under ``key`` unless other content is there; whether ``data`` is there now."""
        ...

    async def content_md5(self, key: str) -> bytes | None:
        """The MD5 digest of the object under ``key``, ``None`` when there is none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""
        ...

    def sign_upload(
        self, key: str, *, expires_in: float, content_md5: bytes | None, base_url: str, if_absent: bool = False
    ) -> tuple[str, dict[str, str]]:
        """A URL (and headers) that lets a client PUT ``key`` with content of MD5 ``content_md5`` until it expires.

        ``content_md5`` is required (``ValueError`` without it): the PUT must send it as
        ``Content-MD5`` and the store checks the body against it. ``if_absent``: the PUT fails
        when the object exists by then (for stores that cannot refuse other content themselves).
        """
        ...

    def sign_download(self, key: str, *, expires_in: float, base_url: str) -> str:
        """A URL that lets a client GET ``key`` until it expires."""
        ...

    def worker_env(self) -> dict[str, str]:
        """Environment variables workers need to reach this store (credentials, endpoint)."""
        ...
