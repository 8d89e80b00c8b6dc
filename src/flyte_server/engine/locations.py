"""Which URIs a client may hand the server: its own store, inside the caller's run (or project), or inline.

Every URI the server will later read or write on a client's behalf (``input_uri``,
``run_output_base``, a trace's outputs, offloaded inputs) is checked when it comes in: it must be
a location of this server's blob store under the run's prefix ``<project>/<domain>/<run>/`` (the
project's prefix ``<project>/<domain>/`` for a run's offloaded inputs), or a bounded ``data:``
URI. Anything else (``file:///etc/passwd``, ``/proc/self/environ``, the server's key,
``http://...``, another run's files) is ``INVALID_ARGUMENT``, so the server never fetches an
arbitrary URL. :class:`~flyte_server.engine.data.DataAccess` refuses such URIs again when reading.
"""

from __future__ import annotations

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from flyte_server.blobs import BlobStore
from flyte_server.blobs.local import BlobPathError, validate_key
from flyte_server.engine.data import INLINE_DATA_MAX, inline_data

__all__ = ["INLINE_URI_MAX", "check_location", "store_key"]

INLINE_URI_MAX = 2 * INLINE_DATA_MAX
"""The longest ``data:`` URI accepted where inline data may travel (base64 of ``INLINE_DATA_MAX`` bytes)."""

_SHOWN = 120


def store_key(blobs: BlobStore, uri: str) -> str | None:
    """The key of ``uri`` in ``blobs``, or ``None`` when it is not a well-formed location of the store."""
    try:
        key = blobs.key_of(uri)
        return validate_key(key) if key else None
    except (BlobPathError, ValueError, OSError, RuntimeError):
        return None


def check_location(
    blobs: BlobStore, uri: str, *, prefix: str, what: str, inline: bool = False, required: bool = False
) -> str:
    """``uri`` when it lies in ``blobs`` under the key prefix ``prefix`` (or is a bounded ``data:`` URI).

    Empty is fine unless ``required``.

    Raises:
        ConnectError: INVALID_ARGUMENT, saying where the URI must be.

    Example:
        >>> check_location(store, "/srv/blobs/p/d/r1/a1/inputs.pb", prefix="p/d/r1", what="x")  # doctest: +SKIP
        '/srv/blobs/p/d/r1/a1/inputs.pb'
    """
    if not uri:
        if required:
            raise ConnectError(Code.INVALID_ARGUMENT, f"{what} is required")
        return uri
    if uri.startswith("data:"):
        if not inline:
            raise ConnectError(Code.INVALID_ARGUMENT, f"{what} cannot be a data: URI")
        if len(uri) > INLINE_URI_MAX:
            raise ConnectError(
                Code.INVALID_ARGUMENT,
                f"{what}: inline data is limited to {INLINE_DATA_MAX} bytes; write larger data to storage",
            )
        data = inline_data(uri)
        if data is None:
            raise ConnectError(Code.INVALID_ARGUMENT, f"{what} is a data: URI that is not base64")
        if len(data) > INLINE_DATA_MAX:  # the URI's length let up to ~6 KiB through; the limit is on the data
            raise ConnectError(
                Code.INVALID_ARGUMENT,
                f"{what}: inline data is limited to {INLINE_DATA_MAX} bytes; write larger data to storage",
            )
        return uri
    prefix = prefix.strip("/")
    key = store_key(blobs, uri)
    if key is None or not (key == prefix or key.startswith(prefix + "/")):
        shown = uri if len(uri) <= _SHOWN else uri[:_SHOWN] + "..."
        where = blobs.native_url(prefix)
        raise ConnectError(
            Code.INVALID_ARGUMENT,
            f"{what} must lie in this server's store under {where}/"
            + (" or be a data: URI" if inline else "")
            + f"; got {shown!r}",
        )
    return uri
