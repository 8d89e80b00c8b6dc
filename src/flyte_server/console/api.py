"""What the console needs beyond the Connect services: one small JSON service, ``flyte.console.ConsoleService``.

It speaks the Connect unary protocol's JSON shape (``POST /flyte.console.ConsoleService/<Method>``
with a JSON body; errors are ``{"code", "message"}`` with the matching HTTP status), so the page
calls it exactly as it calls the generated services, and the auth gate treats it like them: a
``Get*`` method needs read access, ``EncodeInputs`` write access, and a project-limited key may
only name its projects.

Methods:

- ``GetIdentity {}`` → ``{subject, role, projects, auth}``: what the page may offer (roles).
- ``GetRunErrors {project, domain, runs}`` → ``{errors: {run: "Code: message"}}``: the runs list's
  error column (``ListRuns`` carries no error).
- ``GetTimeline {project, domain, run}`` → ``{attempts: [[action, attempt, phase, start_ms, end_ms]]}``:
  every attempt of a run in one query (the Gantt chart).
- ``GetActionIo {project, domain, run, action}`` → ``{inputs, outputs}``: each value rendered by its
  kind (scalar, table, file/dir with signed download links, data frame preview, list, map).
- ``GetLaunchForm {project, domain, task: {name, version}, from?: {run, action}}`` → the fields of a
  form generated from the deployed interface, prefilled from a run's inputs for a relaunch.
- ``EncodeInputs {project, domain, task: {name, version}, values: {name: text}}`` → ``{inputs}``: the
  form's text converted and validated as the CLI's options do, as the ``Inputs`` JSON that
  ``CreateRun`` takes. Files and directories must be locations of this server's store in the
  project; nothing on the server's disk is read on a form's behalf.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from connectrpc.errors import ConnectError
from google.protobuf import json_format
from sqlalchemy import select

if TYPE_CHECKING:
    from flyteidl2.core import literals_pb2, types_pb2

    from flyte_server.app import Receive, Scope, Send
    from flyte_server.engine import Engine

__all__ = ["CONSOLE_SERVICE", "ConsoleApi"]

CONSOLE_SERVICE = "/flyte.console.ConsoleService"
"""Where the console's own service is mounted (one path per method below it)."""

_BODY_MAX = 256 * 1024
_PREVIEW_ROWS = 20
_PREVIEW_BYTES = 64 * 1024 * 1024
_DIR_ENTRIES = 100
_LINK_SECONDS = 3600.0
_TIMELINE_MAX = 20000
_ITEMS_MAX = 200
_STATUS = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "failed_precondition": 412,
    "internal": 500,
    "unimplemented": 404,
}
logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal with a Connect code and a one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConsoleApi:
    """The ASGI application of ``flyte.console.ConsoleService`` on an engine (``None``: no runs here)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._methods: dict[str, Callable[[dict[str, Any], Any], Awaitable[dict[str, Any]]]] = {
            "GetIdentity": self.get_identity,
            "GetRunErrors": self.get_run_errors,
            "GetTimeline": self.get_timeline,
            "GetActionIo": self.get_action_io,
            "GetLaunchForm": self.get_launch_form,
            "EncodeInputs": self.encode_inputs,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _reply(send, 405, {"code": "unimplemented", "message": "use POST"})
            return
        method = scope["path"][len(CONSOLE_SERVICE) + 1 :]
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise ApiError("unimplemented", f"no method {method[:60]!r} in flyte.console.ConsoleService")
            body = await _read_body(receive)
            try:
                request = json.loads(body or b"{}")
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError("invalid_argument", "the request body is not JSON") from None
            if not isinstance(request, dict):
                raise ApiError("invalid_argument", "the request body must be a JSON object")
            result = await handler(request, scope.get("flyte.principal"))
        except ApiError as error:
            await _reply(send, _STATUS.get(error.code, 400), {"code": error.code, "message": error.message})
            return
        except ConnectError as error:
            code = error.code.name.lower()
            await _reply(send, _STATUS.get(code, 400), {"code": code, "message": error.message})
            return
        except Exception:
            logger.exception("console service %s failed", method)
            await _reply(send, 500, {"code": "internal", "message": f"{method} failed; see the server log"})
            return
        await _reply(send, 200, result)

    # ------------------------------------------------------------------ helpers

    def _engine(self) -> Engine:
        if self.engine is None:
            raise ApiError("failed_precondition", "this server runs no tasks")
        return self.engine

    @staticmethod
    def _scope(request: dict[str, Any], principal: Any) -> tuple[str, str]:
        project, domain = _text(request, "project"), _text(request, "domain")
        if principal is not None:
            if principal.projects is not None and project not in principal.projects:
                raise ApiError("permission_denied", f"{principal.subject} may not use project {project!r}")
            if principal.domain is not None and domain != principal.domain:
                raise ApiError("permission_denied", f"{principal.subject} may not use domain {domain!r}")
        return project, domain

    # ------------------------------------------------------------------ methods

    async def get_identity(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        if principal is None:
            return {"subject": "local", "role": "admin", "projects": None, "auth": False}
        projects = sorted(principal.projects) if principal.projects is not None else None
        return {"subject": principal.subject, "role": principal.role, "projects": projects, "auth": True}

    async def get_run_errors(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        from flyte_server.engine.details import error_from_bytes
        from flyte_server.store.models.runs import ActionRow

        project, domain = self._scope(request, principal)
        runs = request.get("runs")
        if not isinstance(runs, list) or not all(isinstance(run, str) for run in runs) or len(runs) > 200:
            raise ApiError("invalid_argument", "runs must be a list of at most 200 run names")
        engine = self._engine()
        async with engine.database.session() as session:
            rows = await session.execute(
                select(ActionRow.run_name, ActionRow.error_info, ActionRow.abort_reason).where(
                    ActionRow.project == project,
                    ActionRow.domain == domain,
                    ActionRow.name == "a0",
                    ActionRow.run_name.in_(runs),
                )
            )
            errors: dict[str, str] = {}
            for run, error_info, abort_reason in rows:
                error = error_from_bytes(error_info)
                if error is not None and (error.message or error.code):
                    errors[run] = f"{error.code}: {error.message}" if error.code else error.message
                elif abort_reason:
                    errors[run] = f"aborted: {abort_reason}"
        return {"errors": errors}

    async def get_timeline(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        from flyte_server.engine.model import phase_name
        from flyte_server.store.models.runs import AttemptRow

        project, domain = self._scope(request, principal)
        run = _text(request, "run")
        async with self._engine().database.session() as session:
            rows = await session.execute(
                select(
                    AttemptRow.action_name,
                    AttemptRow.attempt,
                    AttemptRow.phase,
                    AttemptRow.started_us,
                    AttemptRow.ended_us,
                )
                .where(AttemptRow.project == project, AttemptRow.domain == domain, AttemptRow.run_name == run)
                .limit(_TIMELINE_MAX)
            )
            attempts = [
                [name, number, phase_name(phase), started // 1000, (ended // 1000) if ended else None]
                for name, number, phase, started, ended in rows
            ]
        return {"attempts": attempts}

    async def get_action_io(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        from flyte_server.engine.model import ActionKey

        project, domain = self._scope(request, principal)
        key = ActionKey(project, domain, _text(request, "run"), _text(request, "action"))
        engine = self._engine()
        inputs, outputs, _, _ = await engine.queries.action_data(key)
        render = _Renderer(engine, project, domain)
        return {
            "inputs": [{**await render.view(item.value), "name": item.name} for item in inputs.literals],
            "outputs": [{**await render.view(item.value), "name": item.name} for item in outputs.literals],
        }

    async def _interface(
        self, request: dict[str, Any], project: str, domain: str
    ) -> tuple[Any, dict[str, tuple[Any, Any]], dict[str, types_pb2.LiteralType], dict[str, Any]]:
        """The deployed task's spec, guessed Python inputs, declared literal types and default literals."""
        from flyteidl2.task import task_definition_pb2

        from flyte.types import TypeEngine

        task = request.get("task")
        if not isinstance(task, dict):
            raise ApiError("invalid_argument", "task {name, version} is required")
        name, version = _text(task, "name", "task.name"), _text(task, "version", "task.version")
        engine = self._engine()
        task_id = task_definition_pb2.TaskIdentifier(project=project, domain=domain, name=name, version=version)
        async with engine.database.session() as session:
            spec = await engine.submit.deployed_spec(session, task_id, project, domain)
        interface = spec.task_template.interface
        types = {entry.key: entry.value.type for entry in interface.inputs.variables}
        defaults = {
            param.name: param.parameter.default for param in spec.default_inputs if param.parameter.HasField("default")
        }
        # As the CLI's deployed-task command guesses them, one input at a time: a type the SDK
        # cannot guess (None) still gets a field (a blob is a location, anything else JSON).
        inputs: dict[str, tuple[Any, Any]] = {}
        for name, literal_type in types.items():
            try:
                guessed = TypeEngine.guess_python_type(literal_type)
            except Exception:
                guessed = None
            inputs[name] = (guessed, None if name in defaults else inspect.Parameter.empty)
        return spec, inputs, types, defaults

    async def get_launch_form(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        from flyte.cli._params import short_type_name

        project, domain = self._scope(request, principal)
        spec, inputs, types, defaults = await self._interface(request, project, domain)
        descriptions = {entry.key: entry.value.description for entry in spec.task_template.interface.inputs.variables}
        prefill: dict[str, str] = {}
        source = request.get("from")
        if isinstance(source, dict):
            from flyte_server.engine.model import ActionKey

            key = ActionKey(project, domain, _text(source, "run", "from.run"), _text(source, "action", "from.action"))
            previous, _, _, _ = await self._engine().queries.action_data(key)
            prefill = {item.name: _as_text(item.value) for item in previous.literals}
        fields = []
        for name, (tp, default) in inputs.items():
            kind, choices = _field_kind(tp) if tp is not None else (_unguessed_kind(types[name]), None)
            field: dict[str, Any] = {
                "name": name,
                "type": short_type_name(tp) if tp is not None else _unguessed_kind(types[name]),
                "kind": kind,
                "required": default is inspect.Parameter.empty,
                "description": descriptions.get(name, ""),
            }
            if choices:
                field["choices"] = choices
            if name in defaults:
                field["default"] = _as_text(defaults[name])
            if name in prefill:
                field["value"] = prefill[name]
            fields.append(field)
        outputs = [
            {"name": entry.key, "type": _literal_type_text(entry.value.type)}
            for entry in spec.task_template.interface.outputs.variables
        ]
        return {"fields": fields, "outputs": outputs, "shortName": spec.short_name}

    async def encode_inputs(self, request: dict[str, Any], principal: Any) -> dict[str, Any]:
        from flyteidl2.task import common_pb2

        from flyte.types import TypeEngine

        project, domain = self._scope(request, principal)
        _, inputs, types, _ = await self._interface(request, project, domain)
        values = request.get("values", {})
        if not isinstance(values, dict):
            raise ApiError("invalid_argument", "values must be an object of input name → text")
        unknown = sorted(set(values) - set(inputs))
        if unknown:
            raise ApiError("invalid_argument", f"the task has no input {unknown[0]!r}")
        encoded = common_pb2.Inputs()
        for name, (tp, default) in inputs.items():
            raw = values.get(name)
            if raw is None or raw == "":
                if default is inspect.Parameter.empty:
                    raise ApiError("invalid_argument", f"{name}: a value is required")
                continue  # the deployed default applies
            if tp is None:
                encoded.literals.append(
                    common_pb2.NamedLiteral(name=name, value=self._unguessed(name, types[name], raw, project, domain))
                )
                continue
            value = self._convert(name, tp, raw, project, domain)
            try:
                literal = await TypeEngine.to_literal(value, tp, types[name])
            except Exception as error:  # the type engine's refusals are of many kinds
                raise ApiError("invalid_argument", f"{name}: {_first_line(error)}") from None
            encoded.literals.append(common_pb2.NamedLiteral(name=name, value=literal))
        return {"inputs": json_format.MessageToDict(encoded)}

    def _unguessed(
        self, name: str, literal_type: types_pb2.LiteralType, raw: Any, project: str, domain: str
    ) -> literals_pb2.Literal:
        """The literal of an input whose Python type the SDK cannot guess: only locations (blobs)."""
        from flyteidl2.core import literals_pb2

        if not literal_type.HasField("blob") or not isinstance(raw, str):
            raise ApiError("invalid_argument", f"{name}: the console cannot convert a value of this input's type")
        self._check_location(name, raw.strip(), project, domain)
        blob = literals_pb2.Blob(uri=raw.strip(), metadata=literals_pb2.BlobMetadata(type=literal_type.blob))
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))

    def _convert(self, name: str, tp: Any, raw: Any, project: str, domain: str) -> Any:
        """The form's value for one input, converted as the CLI converts an option's text."""
        import click

        from flyte.cli._params import JsonValueType, _strip_optional, param_type_for

        inner, _ = _strip_optional(tp)
        if not isinstance(raw, (str, bool, int, float)):
            raise ApiError("invalid_argument", f"{name}: give the value as text")
        text = str(raw).strip()
        io_kind = _io_kind(inner)
        if io_kind is not None:
            return self._remote_io(name, io_kind, inner, text, project, domain)
        if isinstance(inner, type) and issubclass(inner, Path):
            raise ApiError("invalid_argument", f"{name}: a local path cannot be given from the console")
        param_type = param_type_for(tp)
        if param_type is None:  # a boolean
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ApiError("invalid_argument", f"{name}: {text[:40]!r} is not a boolean (true or false)")
        try:
            if isinstance(param_type, JsonValueType):
                # Parsed here: the CLI's type would also read .json/.yaml files from the server's disk.
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as error:
                    if not param_type.raw_text_fallback:
                        raise ApiError("invalid_argument", f"{name}: not valid JSON ({error})") from None
                    data = text
                return param_type._validate(data, None, None)
            return param_type.convert(text, None, None)
        except click.BadParameter as error:
            raise ApiError("invalid_argument", f"{name}: {error.format_message()}") from None

    def _check_location(self, name: str, uri: str, project: str, domain: str) -> None:
        """Refuse ``uri`` unless it is a location of this server's store under the project and domain."""
        from flyte_server.engine.locations import store_key

        engine = self._engine()
        key = store_key(engine.blobs, uri)
        if key is None or not key.startswith(f"{project}/{domain}/"):
            where = engine.blobs.native_url(f"{project}/{domain}")
            raise ApiError("invalid_argument", f"{name}: give a location of this server's store under {where}/")

    def _remote_io(self, name: str, kind: str, tp: Any, uri: str, project: str, domain: str) -> Any:
        self._check_location(name, uri, project, domain)
        if kind == "file":
            from flyte.io import File

            return File.from_existing_remote(uri)
        if kind == "dir":
            from flyte.io import Dir

            return Dir.from_existing_remote(uri)
        from flyte.io import DataFrame

        return DataFrame.from_existing_remote(uri)


# --------------------------------------------------------------------------------- rendering


class _Renderer:
    """Literals as the page shows them: kind + what that kind needs (JSON only)."""

    def __init__(self, engine: Engine, project: str, domain: str) -> None:
        self.engine = engine
        self.prefix = f"{project}/{domain}/"

    def _link(self, uri: str) -> str | None:
        """A signed download URL for a location of the store in this project; ``None`` otherwise."""
        from flyte_server.engine.locations import store_key

        key = store_key(self.engine.blobs, uri)
        if key is None or not key.startswith(self.prefix):
            return None
        return str(self.engine.blobs.sign_download(key, expires_in=_LINK_SECONDS, base_url=self.engine.base_url))

    async def view(self, literal: literals_pb2.Literal, depth: int = 0) -> dict[str, Any]:
        if depth > 8:
            return {"kind": "text", "value": "…"}
        which = literal.WhichOneof("value")
        if which == "collection":
            items = literal.collection.literals
            shown = [await self.view(item, depth + 1) for item in items[:_ITEMS_MAX]]
            if shown and all(item["kind"] == "table" for item in shown):
                return _records_table(shown, len(items))
            return {"kind": "list", "items": shown, "total": len(items)}
        if which == "map":
            entries = list(literal.map.literals.items())
            return {
                "kind": "map",
                "entries": [[key, await self.view(value, depth + 1)] for key, value in entries[:_ITEMS_MAX]],
                "total": len(entries),
            }
        if which == "offloaded_metadata":
            return {"kind": "text", "value": f"(offloaded to {literal.offloaded_metadata.uri})"}
        if which != "scalar":
            return {"kind": "text", "value": "(empty)"}
        scalar = literal.scalar
        kind = scalar.WhichOneof("value")
        if kind == "primitive":
            return {"kind": "scalar", "value": _primitive(scalar.primitive)}
        if kind == "none_type":
            return {"kind": "scalar", "value": None}
        if kind == "union":
            return await self.view(scalar.union.value, depth + 1)
        if kind == "binary":
            value = _binary(scalar.binary)
            if isinstance(value, dict):
                return {"kind": "table", "rows": [[str(k), _plain(v)] for k, v in value.items()]}
            return {"kind": "json", "value": _plain(value)}
        if kind == "generic":
            value = json_format.MessageToDict(scalar.generic)
            return {"kind": "table", "rows": [[k, v] for k, v in value.items()]}
        if kind == "blob":
            uri = scalar.blob.uri
            multipart = scalar.blob.metadata.type.dimensionality == 1
            if multipart:
                return {"kind": "dir", "uri": uri, "entries": self._dir_entries(uri)}
            return {"kind": "file", "uri": uri, "filename": PurePosixPath(uri).name, "url": self._link(uri)}
        if kind == "structured_dataset":
            return await self._frame(scalar.structured_dataset.uri)
        if kind == "error":
            return {"kind": "text", "value": f"error: {scalar.error.message}"}
        return {"kind": "text", "value": f"({kind})"}

    def _local_path(self, uri: str) -> Path | None:
        from flyte_server.blobs.local import LocalBlobStore
        from flyte_server.engine.locations import store_key

        blobs = self.engine.blobs
        key = store_key(blobs, uri)
        if not isinstance(blobs, LocalBlobStore) or key is None or not key.startswith(self.prefix):
            return None
        return blobs.root / key

    def _dir_entries(self, uri: str) -> list[dict[str, Any]] | None:
        root = self._local_path(uri)
        if root is None or not root.is_dir():
            return None
        entries = []
        for path in sorted(root.rglob("*"))[: _DIR_ENTRIES * 4]:
            if path.is_file() and not path.is_symlink():
                entries.append({"name": path.relative_to(root).as_posix(), "url": self._link(str(path))})
            if len(entries) >= _DIR_ENTRIES:
                break
        return entries

    async def _frame(self, uri: str) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": "dataframe", "uri": uri, "url": self._link(uri)}
        root = self._local_path(uri)
        if root is None or not root.exists():
            return {**shown, "note": "no preview (not in this server's local store)"}
        try:
            columns, rows, total = await asyncio.to_thread(_parquet_preview, root)
        except Exception as error:  # not parquet, unreadable, pyarrow missing
            return {**shown, "note": f"no preview: {_first_line(error)}"}
        return {**shown, "columns": columns, "rows": rows, "total": total}


def _parquet_preview(root: Path) -> tuple[list[str], list[list[Any]], int]:
    import pyarrow.parquet as pq

    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    files = [path for path in files if path.stat().st_size <= _PREVIEW_BYTES]
    if not files:
        raise ValueError("no data files")
    first = pq.ParquetFile(files[0])
    total = sum(pq.ParquetFile(path).metadata.num_rows for path in files[:50])
    batch = next(first.iter_batches(batch_size=_PREVIEW_ROWS), None)
    columns = list(first.schema_arrow.names)
    rows = [[_plain(row[name]) for name in columns] for row in batch.to_pylist()] if batch is not None else []
    return columns, rows, total


def _records_table(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    columns: list[str] = []
    for item in items:
        for key, _ in item["rows"]:
            if key not in columns:
                columns.append(key)
    rows = [[dict(item["rows"]).get(column) for column in columns] for item in items]
    return {"kind": "records", "columns": columns, "rows": rows, "total": total}


def _primitive(primitive: literals_pb2.Primitive) -> Any:
    which = primitive.WhichOneof("value")
    if which == "integer":
        return primitive.integer
    if which == "float_value":
        return primitive.float_value
    if which == "string_value":
        return primitive.string_value
    if which == "boolean":
        return primitive.boolean
    if which == "datetime":
        return primitive.datetime.ToDatetime(tzinfo=dt.timezone.utc).isoformat()
    if which == "duration":
        return f"{primitive.duration.ToTimedelta().total_seconds():g}s"
    return None


def _binary(binary: literals_pb2.Binary) -> Any:
    if binary.tag == "msgpack":
        import msgpack

        try:
            return msgpack.unpackb(binary.value, raw=False, strict_map_key=False)
        except Exception:
            return f"({len(binary.value)} bytes of msgpack that do not decode)"
    return f"({len(binary.value)} bytes, {binary.tag or 'binary'})"


def _plain(value: Any) -> Any:
    """``value`` as JSON can carry it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return str(value)
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"({len(value)} bytes)"
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


def _as_text(literal: literals_pb2.Literal) -> str:
    """A literal as the text a form field (or a CLI option) takes."""
    value = _literal_value(literal)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _literal_value(literal: literals_pb2.Literal) -> Any:
    which = literal.WhichOneof("value")
    if which == "collection":
        return [_literal_value(item) for item in literal.collection.literals]
    if which == "map":
        return {key: _literal_value(value) for key, value in literal.map.literals.items()}
    if which != "scalar":
        return None
    scalar = literal.scalar
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return _primitive(scalar.primitive)
    if kind == "union":
        return _literal_value(scalar.union.value)
    if kind == "binary":
        return _plain(_binary(scalar.binary))
    if kind == "generic":
        return json_format.MessageToDict(scalar.generic)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "structured_dataset":
        return scalar.structured_dataset.uri
    return None


def _literal_type_text(literal_type: types_pb2.LiteralType) -> str:
    from flyte.cli._params import short_type_name
    from flyte.types import TypeEngine

    try:
        return short_type_name(TypeEngine.guess_python_type(literal_type))
    except Exception:
        return "?"


def _io_kind(tp: Any) -> str | None:
    import typing

    from flyte.io import DataFrame, Dir, File

    base = typing.get_origin(tp) or tp
    if isinstance(base, type):
        if issubclass(base, File):
            return "file"
        if issubclass(base, Dir):
            return "dir"
        if issubclass(base, DataFrame):
            return "dataframe"
    return None


def _unguessed_kind(literal_type: types_pb2.LiteralType) -> str:
    if literal_type.HasField("blob"):
        return "dir" if literal_type.blob.dimensionality == 1 else "file"
    return "json"


def _field_kind(tp: Any) -> tuple[str, list[str] | None]:
    """How the form asks for an input: its widget kind and, for choices, the values."""
    import enum
    import typing

    from flyte.cli._params import _strip_optional

    inner, _ = _strip_optional(tp)
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    io_kind = _io_kind(inner)
    if io_kind is not None:
        return io_kind, None
    if inner is bool:
        return "bool", None
    if inner is int:
        return "int", None
    if inner is float:
        return "float", None
    if inner is str:
        return "str", None
    if inner is dt.datetime or inner is dt.date:
        return "datetime", None
    if inner is dt.timedelta:
        return "duration", None
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return "choice", [member.name for member in inner]
    if typing.get_origin(inner) is typing.Literal:
        return "choice", [str(value) for value in typing.get_args(inner)]
    if dataclasses.is_dataclass(inner) or typing.get_origin(inner) in (list, dict) or inner in (list, dict):
        return "json", None
    return "json", None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _text(request: dict[str, Any], key: str, shown: str | None = None) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ApiError("invalid_argument", f"{shown or key} is required (text)")
    return value


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError("invalid_argument", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _BODY_MAX:
            raise ApiError("invalid_argument", f"the request is larger than {_BODY_MAX} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
