"""What an action offers besides its status: ids, raw and typed data, its report and its code.

:class:`ActionExtras` is mixed into :class:`flyte.remote.Action` (so :class:`ActionDetails` and,
through its root action, :class:`flyte.remote.Run` have it too). :class:`ActionDetails` is the
snapshot ``Action.details()`` returns: an ``Action`` with the attempt-level members Flyte 2's
``ActionDetails`` has.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._internal.syncify import syncify_method

if TYPE_CHECKING:
    from flyteidl2.core import literals_pb2

    from flyte._internal.serde import CodeBundle
    from flyte.models import ActionID, ActionPhase
    from flyte.remote._action import Action, ActionAttempt

__all__ = ["ActionExtras", "code_bundle_of"]


class ActionExtras:
    """Members shared by :class:`~flyte.remote.Action` and :class:`~flyte.remote.ActionDetails`."""

    # Provided by Action (declared for type checkers).
    project: str
    domain: str
    run_name: str
    name: str
    parent: str | None
    phase: ActionPhase
    attempts: int
    attempt_history: tuple[ActionAttempt, ...]

    if TYPE_CHECKING:

        async def _literals(
            self,
        ) -> tuple[dict[str, literals_pb2.Literal], dict[str, literals_pb2.Literal]]: ...

        def _describe(self) -> str: ...

        def _proto_id(self) -> Any: ...

    @property
    def action_id(self) -> ActionID:
        """The action's id (``name``, ``run_name``, ``project``, ``domain``)."""
        from flyte.models import ActionID
        from flyte.remote._common import org

        return ActionID(
            name=self.name, run_name=self.run_name, project=self.project, domain=self.domain, org=org() or None
        )

    @property
    def parent_name(self) -> str | None:
        """The name of the action that started this one (``None`` for a run's root ``a0``)."""
        return self.parent

    @property
    def raw_phase(self) -> int:
        """The phase as the ``flyteidl2.common.ActionPhase`` enum value."""
        from flyte.remote._common import phase_to_proto

        return phase_to_proto(self.phase)

    @property
    def is_running(self) -> bool:
        """Whether the action is running now (as of the last update)."""
        return self.phase.name == "RUNNING"

    @syncify_method
    async def input_literals(self) -> dict[str, literals_pb2.Literal]:
        """The inputs as ``flyteidl2`` literals by name, undecoded."""
        inputs, _ = await self._literals()
        return dict(inputs)

    @syncify_method
    async def output_literals(self) -> dict[str, literals_pb2.Literal]:
        """The outputs as ``flyteidl2`` literals by name (``o0``, ...), undecoded; empty until it succeeds."""
        _, outputs = await self._literals()
        return dict(outputs)

    @syncify_method
    async def typed_inputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The inputs named in ``types``, decoded as those types (see :meth:`typed_outputs`)."""
        inputs, _ = await self._literals()
        return await decode_as(inputs, types, deserializers, f"input of {self._describe()}")

    @syncify_method
    async def typed_outputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The outputs named in ``types`` (e.g. ``{"o0": MyModel}``), decoded as those types.

        Only the named outputs are decoded. A type with an entry in ``deserializers`` is not
        decoded by Flyte: the raw payload (a ``dict`` for structured values) goes to that function,
        which returns the value (for models whose schema changed since the run).

        Example:
            >>> action.typed_outputs({"o0": Report})["o0"].score  # doctest: +SKIP
        """
        _, outputs = await self._literals()
        return await decode_as(outputs, types, deserializers, f"output of {self._describe()}")

    def logs_available(self, attempt: int | None = None) -> bool:
        """Whether the attempt (default: the latest) has logs to read yet."""
        history = self.attempt_history
        if not history:
            return False
        if attempt is None:
            return history[-1].logs_available
        return any(item.attempt == attempt and item.logs_available for item in history)

    @syncify_method
    async def get_report(self, attempt: int | None = None) -> str:
        """The HTML report the task wrote with ``flyte.report`` (default: its latest attempt).

        Raises:
            flyte.errors.NotFoundError: the attempt wrote no report.
        """
        from flyteidl2.common import identifier_pb2
        from flyteidl2.dataproxy import dataproxy_service_pb2

        from flyte.remote._data import download_signed, signed_download_url

        number = attempt or max(self.attempts, 1)
        request = dataproxy_service_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_service_pb2.ARTIFACT_TYPE_REPORT,
            action_attempt_id=identifier_pb2.ActionAttemptIdentifier(action_id=self._proto_id(), attempt=number),
        )
        url = await signed_download_url(request, f"the report of {self._describe()} (attempt {number})")
        return (await download_signed(url)).decode("utf-8", errors="replace")

    @syncify_method
    async def download_code(
        self, dest: str | Path | None = None, extract: bool = True, attempt: int | None = None
    ) -> Path:
        """Download the code this action ran (the code bundle its task was started with).

        Args:
            dest: the directory to download into (created; default ``./<run name>``).
            extract: unpack a ``.tar.gz`` bundle into ``dest`` (a pickled task is never unpacked).
            attempt: the attempt whose bundle to fetch (default: the latest).

        Returns:
            ``dest`` when the bundle was unpacked, else the path of the downloaded archive.

        Raises:
            flyte.errors.ActionNotFoundError: no such action, or its task ran from code in its image.

        Example:
            >>> src = flyte.remote.Run.get("r1").download_code("r1-code")  # doctest: +SKIP
            >>> (src / "workflows.py").read_text()  # doctest: +SKIP
        """
        from flyte.remote._code_bundle import download_code_bundle

        target = Path(dest) if dest is not None else Path.cwd() / self.run_name
        return await download_code_bundle(
            self.project, self.domain, self.run_name, self.name, dest=target, extract=extract, attempt=attempt
        )


def code_bundle_of(spec: Any) -> CodeBundle | None:
    """The code bundle a ``TaskSpec`` names (``--tgz`` / ``--pkl`` of its container), or ``None``.

    Example:
        >>> from flyteidl2.task import task_definition_pb2
        >>> spec = task_definition_pb2.TaskSpec()
        >>> spec.task_template.container.args.extend(["a0", "--tgz", "s3://b/fast1.tar.gz", "--dest", "."])
        >>> code_bundle_of(spec).tgz
        's3://b/fast1.tar.gz'
    """
    from flyte._internal.serde import CodeBundle

    template = spec.task_template
    args = list(template.container.args)
    found: dict[str, str] = {}
    for flag in ("--tgz", "--pkl", "--dest", "--version"):
        if flag in args and args.index(flag) + 1 < len(args):
            found[flag] = args[args.index(flag) + 1]
    tgz, pkl = found.get("--tgz"), found.get("--pkl")
    if not tgz and not pkl:
        uri = template.metadata.code_bundle_uri
        if not uri:
            return None
        tgz, pkl = (None, uri) if uri.endswith(".pkl.gz") else (uri, None)
    return CodeBundle(
        tgz=tgz or None,
        pkl=None if tgz else pkl,
        destination=found.get("--dest", "."),
        computed_version=found.get("--version", ""),
    )


async def decode_as(
    literals: dict[str, literals_pb2.Literal],
    types: dict[str, type],
    deserializers: dict[type, Callable[[Any], Any]] | None,
    what: str,
) -> dict[str, Any]:
    """The literals named in ``types`` decoded as those types (``deserializers`` take raw payloads)."""
    from flyte.errors import RuntimeDataValidationError
    from flyte.types import TypeEngine, TypeTransformerFailedError

    missing = sorted(set(types) - set(literals))
    if missing:
        raise KeyError(f"No {what} named {', '.join(missing)}; there are: {', '.join(literals) or 'none'}")
    custom = deserializers or {}
    values: dict[str, Any] = {}
    for name, python_type in types.items():
        literal = literals[name]
        try:
            if python_type in custom:
                values[name] = custom[python_type](await TypeEngine.to_python_value(literal, dict))
            else:
                values[name] = await TypeEngine.to_python_value(literal, python_type)
        except (TypeTransformerFailedError, TypeError, ValueError, AttributeError) as error:
            raise RuntimeDataValidationError(
                name, f"Cannot read {name!r}, an {what}, as {getattr(python_type, '__name__', python_type)}: {error}"
            ) from error
    return values


def details_from(action: Action) -> Any:
    """An :class:`ActionDetails` with ``action``'s fields (``Action.details()`` returns one)."""
    from dataclasses import fields

    from flyte.remote._action_details import ActionDetails

    values = {item.name: getattr(action, item.name) for item in fields(action)}
    return ActionDetails(**values)
