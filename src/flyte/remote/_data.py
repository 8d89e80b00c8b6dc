"""Files to and from the control plane's DataProxy: ``upload_file``, ``upload_dir``, signed downloads.

An upload asks ``DataProxy.CreateUploadLocation`` for a signed URL bound to the file's MD5 and
PUTs the bytes there; the object's URI (what tasks read, e.g. as a ``flyte.io.File``) comes back.
Downloads (reports, code bundles) ask ``CreateDownloadLink`` for a signed URL and GET it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from flyte._internal.syncify import syncify
from flyte.errors import RuntimeSystemError
from flyte.remote._common import control_plane_error, dataproxy_for, org, scope

if TYPE_CHECKING:
    from flyteidl2.dataproxy import dataproxy_service_pb2

__all__ = ["download_signed", "signed_download_url", "upload_dir", "upload_file"]

_UPLOAD_EXPIRY_S = 3600
_TIMEOUT_S = 300.0
_PARALLEL_UPLOADS = 8


def _md5(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


async def _upload_one(
    path: Path, *, verify: bool, filename: str, root: str | None, content_type: str | None
) -> tuple[str, str]:
    from connectrpc.errors import ConnectError
    from flyteidl2.dataproxy import dataproxy_service_pb2
    from google.protobuf import duration_pb2

    project, domain = scope()
    md5 = await asyncio.to_thread(_md5, path)
    request = dataproxy_service_pb2.CreateUploadLocationRequest(
        project=project,
        domain=domain,
        org=org(),
        filename=filename,
        content_md5=md5,
        expires_in=duration_pb2.Duration(seconds=_UPLOAD_EXPIRY_S),
        add_content_md5_metadata=True,
    )
    if root:
        request.filename_root = root
    try:
        dataproxy = await dataproxy_for("OPERATION_CREATE_UPLOAD_LOCATION", project, domain)
        location = await dataproxy.create_upload_location(request)
    except ConnectError as error:
        what = f"an upload location for {path} in {project}/{domain}"
        raise control_plane_error(error, what, explain=True) from error
    headers = {
        "Content-Length": str(path.stat().st_size),
        "Content-MD5": base64.b64encode(md5).decode(),
        **dict(location.headers),
    }
    if content_type and not any(key.lower() == "content-type" for key in headers):
        headers["Content-Type"] = content_type
    await _put(location.signed_url, path, headers, verify=verify)
    return md5.hex(), str(location.native_url)


async def _put(url: str, path: Path, headers: dict[str, str], *, verify: bool) -> None:
    from flyte._internal.retrying import put_signed_url

    def failure(message: str) -> RuntimeSystemError:
        return RuntimeSystemError("UploadFailed", message)

    await put_signed_url(
        url, path.read_bytes, headers, what=str(path), error=failure, verify=verify, timeout_s=_TIMEOUT_S
    )


@syncify
async def upload_file(
    fp: Path, verify: bool = True, fname: str | None = None, content_type: str | None = None
) -> tuple[str, str]:
    """Upload one local file through the control plane; returns ``(md5 hex digest, remote URI)``.

    Args:
        fp: the file.
        verify: check the TLS certificate of the upload URL.
        fname: the remote file name (default: the local one).
        content_type: the MIME type stored with the object (browsers then show it inline).

    Raises:
        ValueError: ``fp`` is not a file.
        flyte.errors.InitializationError: no control plane, project or domain is configured.

    Example:
        >>> digest, uri = flyte.remote.upload_file(Path("data.csv"))  # doctest: +SKIP
        >>> flyte.run(train, data=flyte.io.File(path=uri))  # doctest: +SKIP
    """
    path = Path(fp)
    if not path.is_file():
        raise ValueError(f"{path} is not a file; upload_file uploads a single file (use upload_dir for folders)")
    return await _upload_one(path, verify=verify, filename=fname or path.name, root=None, content_type=content_type)


@syncify
async def upload_dir(dir_path: Path, verify: bool = True, prefix: str | None = None) -> str:
    """Upload every file under a local directory (keeping sub-folders); returns the remote folder's URI.

    Args:
        dir_path: the directory.
        verify: check the TLS certificate of the upload URLs.
        prefix: the remote folder's name (default: a random one).

    Raises:
        ValueError: ``dir_path`` is not a directory, or holds no file.

    Example:
        >>> uri = flyte.remote.upload_dir(Path("images"))  # doctest: +SKIP
        >>> flyte.run(train, images=flyte.io.Dir(path=uri))  # doctest: +SKIP
    """
    root = Path(dir_path)
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory; upload_dir uploads a folder (use upload_file for one file)")
    files = sorted(path for path in root.rglob("*") if path.is_file())
    if not files:
        raise ValueError(f"{root} holds no file to upload")
    folder = prefix or uuid.uuid4().hex
    limit = asyncio.Semaphore(_PARALLEL_UPLOADS)

    async def one(path: Path) -> tuple[str, str]:
        relative = path.relative_to(root).as_posix()
        async with limit:
            _, uri = await _upload_one(path, verify=verify, filename=relative, root=folder, content_type=None)
        return relative, uri

    relative, uri = (await asyncio.gather(*(one(path) for path in files)))[0]
    return uri[: -len(relative) - 1]


async def signed_download_url(request: dataproxy_service_pb2.CreateDownloadLinkRequest, what: str) -> str:
    """The first signed URL ``CreateDownloadLink`` gives for ``request`` (``what`` names it in errors)."""
    from connectrpc.errors import ConnectError

    from flyte.errors import NotFoundError

    project, domain = scope()
    try:
        dataproxy = await dataproxy_for("OPERATION_CREATE_DOWNLOAD_LINK", project, domain)
        response = await dataproxy.create_download_link(request)
    except ConnectError as error:
        raise control_plane_error(error, what, explain=True) from error
    urls = list(response.pre_signed_urls.signed_url)
    if not urls:
        raise NotFoundError(f"The control plane has no download link for {what}")
    return str(urls[0])


async def download_signed(url: str, *, target: Path | None = None) -> bytes:
    """GET a signed URL: the body (or, with ``target``, streamed into that file and ``b""`` returned)."""
    import httpx

    where = url.split("?")[0]
    async with httpx.AsyncClient(timeout=httpx.Timeout(_TIMEOUT_S, connect=10.0), follow_redirects=True) as client:
        try:
            async with client.stream("GET", url) as response:
                if response.status_code >= 300:
                    await response.aread()
                    raise RuntimeSystemError(
                        "DownloadFailed", f"Downloading {where} failed with HTTP {response.status_code}"
                    )
                if target is None:
                    return await response.aread()
                with target.open("wb") as stream:
                    async for chunk in response.aiter_bytes():
                        stream.write(chunk)
                return b""
        except httpx.TransportError as error:
            raise RuntimeSystemError("DownloadFailed", f"Cannot download {where}: {error}") from error
