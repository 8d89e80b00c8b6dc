"""Download the code an action ran: the bundle ``flyte run`` / ``flyte deploy`` uploaded for it.

The control plane signs a download link for the bundle named in the action's task spec
(``DataProxyService.CreateDownloadLink``, artifact type ``CODE_BUNDLE``, by action attempt); the
archive (``.tar.gz``) is unpacked into the destination, a pickled task (``.pkl``) is kept as is.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from flyte.errors import ActionNotFoundError
from flyte.remote._common import control_plane_error, dataproxy_for

__all__ = ["NoCodeBundleError", "bundle_uri_of", "download_code_bundle"]


class NoCodeBundleError(ActionNotFoundError):
    """The action ran code baked into its image: there is no bundle to download."""


def bundle_uri_of(template: object) -> str:
    """The code bundle a task template names (its metadata, or the ``--tgz``/``--pkl`` argument); "" if none."""
    from flyteidl2.core import tasks_pb2

    assert isinstance(template, tasks_pb2.TaskTemplate)
    if template.metadata.code_bundle_uri:
        return str(template.metadata.code_bundle_uri)
    args = list(template.container.args)
    for flag in ("--tgz", "--pkl"):
        if flag in args and args.index(flag) + 1 < len(args):
            return str(args[args.index(flag) + 1])
    return ""


def _extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        root = dest.resolve()
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if (root not in target.parents and target != root) or member.issym() or member.islnk():
                raise ValueError(f"refusing to unpack {member.name!r} from {archive.name}: it leaves the folder")
        tar.extractall(dest)  # every member checked above (Pythons without data_filter)


async def download_code_bundle(
    project: str,
    domain: str,
    run_name: str,
    action_name: str = "a0",
    *,
    dest: Path,
    extract: bool = True,
    attempt: int | None = None,
) -> Path:
    """Download the code bundle of an action into ``dest`` (created if missing).

    Returns:
        ``dest`` when the archive was unpacked there; the downloaded file otherwise (``extract``
        is false, or the bundle is a pickled task).

    Raises:
        flyte.errors.ActionNotFoundError: no such run or action.
        NoCodeBundleError: the action's task ran from code in its image.
    """
    import httpx
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2

    from flyte.remote._action import action_id, fetch_details

    details = await fetch_details(project, domain, run_name, action_name)
    uri = bundle_uri_of(details.task.task_template) if details.HasField("task") else ""
    if not uri:
        raise NoCodeBundleError(
            f"Action {action_name} of run {run_name} has no code bundle: its task runs code baked into its image"
        )
    number = attempt or max(len(details.attempts), 1)
    client = await dataproxy_for("OPERATION_CREATE_DOWNLOAD_LINK", project, domain)
    request = dataproxy_service_pb2.CreateDownloadLinkRequest(
        artifact_type=dataproxy_service_pb2.ARTIFACT_TYPE_CODE_BUNDLE,
        action_attempt_id=identifier_pb2.ActionAttemptIdentifier(
            action_id=action_id(project, domain, run_name, action_name), attempt=number
        ),
    )
    try:
        response = await client.create_download_link(request)
    except ConnectError as error:
        raise control_plane_error(
            error, f"the code of action {action_name} of run {run_name}", not_found=NoCodeBundleError, explain=True
        ) from error
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / PurePosixPath(uri).name
    async with httpx.AsyncClient(timeout=300, follow_redirects=True) as http:
        async with http.stream("GET", response.pre_signed_urls.signed_url[0]) as download:
            download.raise_for_status()
            with archive.open("wb") as file:
                async for chunk in download.aiter_bytes():
                    file.write(chunk)
    if not extract or archive.suffix == ".pkl":
        return archive
    _extract(archive, dest)
    archive.unlink()
    return dest
