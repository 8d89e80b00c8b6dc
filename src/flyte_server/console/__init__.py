"""The web console: one static page whose script calls the Connect services with their JSON encoding.

The page (``index.html``) and its assets (``static/``) ship as package data; nothing is built or
fetched from elsewhere. :class:`ConsoleApp` serves the page at ``/v2``, ``/v2/`` and the run
links the SDK prints (``/v2/domain/<domain>/project/<project>/runs/<run>``), and the assets at
``/v2/static/<name>``. An asset name is one plain file name with a known suffix, so no request
can reach a file outside ``static/``.

``/v2/report/<key>?expires=..&signature=..`` shows a ``flyte.report`` page: the same signed URL
``CreateDownloadLink`` gives for a report (the signature is the authorization, as for
``/__blob/``), served as HTML in a CSP sandbox (an opaque origin: its scripts cannot read the
console's token), so the run page can embed it in an ``<iframe>``. The JSON service the page
uses beside the Connect services is in :mod:`flyte_server.console.api`.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from flyte_server.app import Receive, Scope, Send

__all__ = ["CONSOLE_PREFIX", "ConsoleApp"]

CONSOLE_PREFIX = "/v2"
"""Where the console is served (the SDK's run links point below it)."""

_CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}
_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_PAGE_PATHS = re.compile(r"/?\Z|/domain/[^/]+/project/[^/]+/(runs|apps)(/[^/]+)?/?\Z")
# The page loads only its own script and stylesheet and talks only to this server.
_PAGE_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    b"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# A report runs its own inline scripts and styles, in a sandbox without the console's origin.
_REPORT_POLICY = (
    b"sandbox allow-scripts allow-popups; default-src 'none'; script-src 'unsafe-inline'; "
    b"style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'"
)
_REPORT_MAX = 32 * 1024 * 1024


class ConsoleApp:
    """The ASGI application of the web console, mounted at :data:`CONSOLE_PREFIX`.

    ``files`` is the folder holding ``index.html`` and ``static/`` (this package's, unless given).

    Example:
        >>> router = Router(connect_apps=apps, extra_routes={CONSOLE_PREFIX: ConsoleApp()})  # doctest: +SKIP
    """

    def __init__(self, files: Traversable | None = None, blobs: object | None = None) -> None:
        self._files = files if files is not None else resources.files(__name__)
        self._cache: dict[str, bytes] = {}
        self._blobs = blobs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _send(send, 405, b"method not allowed\n", b"text/plain", [(b"allow", b"GET, HEAD")], method)
            return
        rest = scope["path"][len(CONSOLE_PREFIX) :]
        if _PAGE_PATHS.match(rest):
            page = self._read("index.html")
            if page is None:
                await _send(send, 404, b"the console is not installed with this server\n", b"text/plain", [], method)
                return
            await _send(send, 200, page, _CONTENT_TYPES[".html"], [(b"content-security-policy", _PAGE_POLICY)], method)
            return
        if rest.startswith("/report/"):
            await self._report(scope, send, rest[len("/report/") :], method)
            return
        name = rest.removeprefix("/static/") if rest.startswith("/static/") else ""
        suffix = PurePosixPath(name).suffix
        body = self._read(f"static/{name}") if _ASSET_NAME.match(name) and suffix in _CONTENT_TYPES else None
        if body is None:
            await _send(send, 404, b"not found\n", b"text/plain", [], method)
            return
        await _send(send, 200, body, _CONTENT_TYPES[suffix], [], method)

    async def _report(self, scope: Scope, send: Send, quoted_key: str, method: str) -> None:
        from flyte_server.blobs.local import BlobPathError, LocalBlobStore

        store = self._blobs
        key = urllib.parse.unquote(quoted_key)
        query = scope.get("query_string", b"").decode("latin-1")
        if not isinstance(store, LocalBlobStore) or not key.endswith("/report.html"):
            await _send(send, 404, b"not found\n", b"text/plain", [], method)
            return
        try:
            if not store.verify("GET", key, query, content_md5=None):
                await _send(send, 403, b"invalid or expired signature\n", b"text/plain", [], method)
                return
            handle = await asyncio.to_thread(store.open_object, key)
        except BlobPathError:
            handle = None
        if handle is None:
            await _send(send, 404, b"no such report\n", b"text/plain", [], method)
            return
        with handle:
            body = await asyncio.to_thread(handle.read, _REPORT_MAX + 1)
        if len(body) > _REPORT_MAX:
            await _send(send, 413, b"the report is too large to show\n", b"text/plain", [], method)
            return
        await _send(send, 200, body, _CONTENT_TYPES[".html"], [(b"content-security-policy", _REPORT_POLICY)], method)

    def _read(self, relative: str) -> bytes | None:
        """The bytes of a packaged file (read once: package data does not change while serving)."""
        if relative not in self._cache:
            target = self._files.joinpath(*relative.split("/"))
            if not target.is_file():
                return None
            self._cache[relative] = target.read_bytes()
        return self._cache[relative]


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]], method: str
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                # Revalidate each time, so a server upgrade never leaves an old script in a browser.
                (b"cache-control", b"no-cache"),
                (b"x-content-type-options", b"nosniff"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
