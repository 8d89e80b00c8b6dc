"""``DataProxyService``: signed upload URLs, offloaded inputs, action data, logs, download links.

Uploads go to ``uploads/<project>/<domain>/<md5 hex or filename_root>/<filename>``: the location is
bound to the caller's project and domain and to the content's MD5, which is required, signed into
the URL and checked against the body. An object that exists with the same MD5 is fine (the client
may upload it again), a different MD5 is ALREADY_EXISTS, and the PUT itself never replaces other
content (the first upload wins), so nobody can swap the code bundle of someone else's run.
Offloaded inputs go to ``<project>/<domain>/offloaded-inputs/<sha256>/inputs.pb``
and the response's ``inputs_hash`` is the SDK's inputs hash (without ``cache_ignore_input_vars``),
which is what the root action's cache key is computed from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.dataproxy import dataproxy_service_connect
from flyteidl2.dataproxy import dataproxy_service_pb2 as pb
from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceASGIApplication
from flyteidl2.logs.dataplane import payload_pb2
from flyteidl2.task import task_definition_pb2

from flyte_server.admin.run_service import action_key
from flyte_server.blobs.local import BlobPathError, validate_key
from flyte_server.engine.details import timestamp
from flyte_server.engine.model import ActionKey, now_us
from flyte_server.engine.submit import check_name
from flyte_server.store.projects import project_exists

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["DataProxyService", "dataproxy_app"]

DEFAULT_EXPIRY = timedelta(minutes=15)
MAX_EXPIRY = timedelta(days=7)
_LOG_BATCH = 200


def _expiry(duration: Any) -> float:
    seconds = float(duration.seconds) + duration.nanos / 1e9 if duration is not None else 0.0
    if seconds <= 0:
        return DEFAULT_EXPIRY.total_seconds()
    return min(seconds, MAX_EXPIRY.total_seconds())


def _path_part(value: str, what: str) -> str:
    """A relative path (one or more safe components) for an object key; INVALID_ARGUMENT otherwise."""
    try:
        return validate_key(value)
    except BlobPathError as error:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{what} {value!r} is not allowed: {error}") from error


class DataProxyService(dataproxy_service_connect.DataProxyService):  # type: ignore[misc]  # the generated stubs are untyped
    """``flyteidl2.dataproxy.DataProxyService`` on the blob store and the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _require_project(self, project: str, domain: str) -> None:
        check_name(project, "project")
        check_name(domain, "domain")
        async with self.engine.database.session() as session:
            if not await project_exists(session, project, domain):
                raise ConnectError(Code.NOT_FOUND, f"project {project!r} (domain {domain!r}) does not exist")

    async def create_upload_location(
        self, request: pb.CreateUploadLocationRequest, ctx: RequestContext[Any, Any]
    ) -> pb.CreateUploadLocationResponse:
        filename = _path_part(request.filename, "filename")
        if len(request.content_md5) != 16:
            raise ConnectError(
                Code.INVALID_ARGUMENT, "content_md5 is required: the 16 raw bytes of the MD5 digest of the content"
            )
        folder = request.content_md5.hex()
        if request.filename_root:
            folder = _path_part(request.filename_root, "filename_root")
        await self._require_project(request.project, request.domain)
        key = f"uploads/{request.project}/{request.domain}/{folder}/{filename}"
        blobs = self.engine.blobs
        existing = await blobs.content_md5(key)
        if existing is not None and existing != request.content_md5:
            raise ConnectError(Code.ALREADY_EXISTS, f"{filename!r} already exists there with different content")
        expires_in = _expiry(request.expires_in if request.HasField("expires_in") else None)
        url, headers = blobs.sign_upload(
            key,
            expires_in=expires_in,
            content_md5=request.content_md5,
            base_url=self.engine.base_url,
            if_absent=existing is None,
        )
        response = pb.CreateUploadLocationResponse(signed_url=url, native_url=blobs.native_url(key), headers=headers)
        response.expires_at.CopyFrom(timestamp(now_us() + int(expires_in * 1e6)))
        return response

    async def upload_inputs(
        self, request: pb.UploadInputsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.UploadInputsResponse:
        which = request.WhichOneof("id")
        if which == "run_id":
            project, domain = request.run_id.project, request.run_id.domain
        elif which == "project_id":
            project, domain = request.project_id.name, request.project_id.domain
        else:
            raise ConnectError(Code.INVALID_ARGUMENT, "UploadInputs needs run_id or project_id")
        await self._require_project(project, domain)
        spec = await self._spec(request, project, domain)
        inputs = request.inputs
        data = inputs.SerializeToString(deterministic=True)
        folder = f"{project}/{domain}/offloaded-inputs/{hashlib.sha256(data).hexdigest()}"
        blobs = self.engine.blobs
        key = f"{folder}/inputs.pb"
        if request.base_dir:
            # Only a directory of this project's own area of the store (else the default above).
            base_key = blobs.key_of(request.base_dir.rstrip("/"))
            if base_key and base_key.startswith(f"{project}/{domain}/"):
                key = f"{base_key}/offloaded-inputs/{hashlib.sha256(data).hexdigest()}/inputs.pb"
        await blobs.put(key, data)
        directory = blobs.native_url(key).rsplit("/", 1)[0]
        offloaded = common_run_pb2.OffloadedInputData(uri=directory, inputs_hash=self.engine.inputs_hash(inputs, spec))
        return pb.UploadInputsResponse(offloaded_input_data=offloaded)

    async def _spec(
        self, request: pb.UploadInputsRequest, project: str, domain: str
    ) -> task_definition_pb2.TaskSpec | None:
        which = request.WhichOneof("task")
        if which == "task_spec":
            return request.task_spec
        if which == "task_id":
            async with self.engine.database.session() as session:
                return await self.engine.submit.deployed_spec(session, request.task_id, project, domain)
        return None

    async def get_action_data(
        self, request: pb.GetActionDataRequest, ctx: RequestContext[Any, Any]
    ) -> pb.GetActionDataResponse:
        inputs, outputs, inputs_uri, outputs_uri = await self.engine.queries.action_data(action_key(request.action_id))
        return pb.GetActionDataResponse(inputs=inputs, outputs=outputs, inputs_uri=inputs_uri, outputs_uri=outputs_uri)

    async def create_download_link(
        self, request: pb.CreateDownloadLinkRequest, ctx: RequestContext[Any, Any]
    ) -> pb.CreateDownloadLinkResponse:
        expires_in = _expiry(request.expires_in if request.HasField("expires_in") else None)
        if request.artifact_type == pb.ARTIFACT_TYPE_REPORT:
            key = action_key(request.action_attempt_id.action_id, "action_attempt_id.action_id")
            _, attempt = await self.engine.queries.attempt(key, request.action_attempt_id.attempt)
            uri = f"{attempt.output_uri}/report.html"
        elif request.artifact_type == pb.ARTIFACT_TYPE_CODE_BUNDLE:
            if request.HasField("action_attempt_id"):
                # The code an action ran (PyPI flyte's Run.download_code / flyte get code): its own spec,
                # deployed or not.
                action_id = request.action_attempt_id.action_id
                key = action_key(action_id, "action_attempt_id.action_id")
                details = await self.engine.queries.action_details(key)
                what, project, domain = f"action {action_id.name!r}", action_id.run.project, action_id.run.domain
                uri = _bundle_of(details.task.task_template) if details.HasField("task") else ""
                if not uri:
                    raise ConnectError(Code.NOT_FOUND, f"{what} has no code bundle (its code is in its image)")
            else:
                uri = await self._code_bundle(request.task_id)
                what, project, domain = (
                    f"task {request.task_id.name!r}",
                    request.task_id.project,
                    request.task_id.domain,
                )
            bundle_key = self.engine.blobs.key_of(uri) or ""
            if not bundle_key.startswith(f"uploads/{project}/{domain}/"):
                raise ConnectError(Code.NOT_FOUND, f"{what} has no code bundle of its project")
        else:
            raise ConnectError(Code.INVALID_ARGUMENT, "artifact_type must be REPORT or CODE_BUNDLE")
        blob_key = self.engine.blobs.key_of(uri)
        if blob_key is None or not await self.engine.blobs.exists(blob_key):
            raise ConnectError(Code.NOT_FOUND, f"there is nothing to download at {uri}")
        url = self.engine.blobs.sign_download(blob_key, expires_in=expires_in, base_url=self.engine.base_url)
        urls = pb.PreSignedURLs(signed_url=[url])
        urls.expires_at.CopyFrom(timestamp(now_us() + int(expires_in * 1e6)))
        return pb.CreateDownloadLinkResponse(pre_signed_urls=urls)

    async def _code_bundle(self, task_id: task_definition_pb2.TaskIdentifier) -> str:
        async with self.engine.database.session() as session:
            spec = await self.engine.submit.deployed_spec(session, task_id, task_id.project, task_id.domain)
        uri = _bundle_of(spec.task_template)
        if not uri:
            raise ConnectError(Code.NOT_FOUND, f"task {task_id.name!r} has no code bundle")
        return uri

    async def tail_logs(
        self, request: pb.TailLogsRequest, ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[pb.TailLogsResponse]:
        key: ActionKey = action_key(request.action_id)
        state = (int(payload_pb2.USER), False)
        async for lines in self.engine.queries.tail_log(key, request.attempt):
            for start in range(0, len(lines), _LOG_BATCH):
                stamp = timestamp(now_us())
                batch = []
                for line in lines[start : start + _LOG_BATCH]:
                    state = _originator(line, state)
                    batch.append(payload_pb2.LogLine(timestamp=stamp, message=line, originator=state[0]))
                yield pb.TailLogsResponse(logs=[pb.TailLogsResponse.Logs(lines=batch)])


_CONTINUATIONS = ("Traceback (most recent call last):", "During handling of", "The above exception")
_SYSTEM_RECORD = re.compile(r"(\[[^\]\s]*\]\[[^\]\s]*\] )?\[flyte\] ")
"""A record of Flyte's runtime: ``[flyte] LEVEL ...`` (ours), ``[run][action] [flyte] LEVEL ...`` (PyPI flyte's)."""


def _originator(line: str, previous: tuple[int, bool]) -> tuple[int, bool]:
    """``(originator, inside a traceback)`` of a log line, given the previous line's.

    SYSTEM for the records of Flyte's runtime and the traceback that follows one (through its
    final ``ExceptionType: message`` line); USER for the task's own output.
    """
    originator, in_traceback = previous
    if _SYSTEM_RECORD.match(line):
        return int(payload_pb2.SYSTEM), False
    if line.startswith(_CONTINUATIONS):
        return originator, line.startswith("Traceback")
    if not line.strip() or line[:1].isspace():
        return originator, in_traceback
    if in_traceback:  # the exception line that ends a traceback
        return originator, False
    return int(payload_pb2.USER), False


def _bundle_of(template: Any) -> str:
    """The code bundle URI a task template names (metadata, or the ``--tgz``/``--pkl`` argument); "" if none."""
    if template.metadata.code_bundle_uri:
        return str(template.metadata.code_bundle_uri)
    args = list(template.container.args)
    for flag in ("--tgz", "--pkl"):
        if flag in args and args.index(flag) + 1 < len(args):
            return str(args[args.index(flag) + 1])
    return ""


def dataproxy_app(engine: Engine, *, interceptors: Sequence[Any] = (), read_max_bytes: int | None = None) -> Any:
    """The ASGI application of DataProxyService."""
    return DataProxyServiceASGIApplication(
        DataProxyService(engine), interceptors=interceptors, read_max_bytes=read_max_bytes
    )
