"""Members of :class:`flyte.remote.Run` and :class:`flyte.remote.RunDetails` that delegate to the root action.

Data (raw and typed), the report, the code, the first failure: each is the root action's
(``a0``), so these mixins forward to ``self.action`` (see :mod:`flyte.remote._action_extras`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._internal.decoding import preserve_original_types
from flyte._internal.syncify import syncify_classmethod, syncify_method

if TYPE_CHECKING:
    from flyteidl2.core import literals_pb2

    from flyte._internal.serde import CodeBundle
    from flyte.models import ActionID
    from flyte.remote._action import Action
    from flyte.remote._action_details import ActionDetails

__all__ = ["RunDetailsExtras", "RunExtras"]


class _RootData:
    action: Action

    @property
    def action_id(self) -> ActionID:
        """The id of the root action (``a0``)."""
        return self.action.action_id

    @property
    def raw_phase(self) -> int:
        """The root action's phase as the ``flyteidl2.common.ActionPhase`` enum value."""
        return self.action.raw_phase


class RunExtras(_RootData):
    """What a :class:`flyte.remote.Run` offers beyond waiting and reading its outputs."""

    _preserve_original_types: bool

    @syncify_method
    async def input_literals(self) -> dict[str, literals_pb2.Literal]:
        """The root task's inputs as ``flyteidl2`` literals by name."""
        return await self.action.input_literals.aio()

    @syncify_method
    async def output_literals(self) -> dict[str, literals_pb2.Literal]:
        """The root task's outputs as ``flyteidl2`` literals by name (``o0``, ...)."""
        return await self.action.output_literals.aio()

    @syncify_method
    async def typed_inputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The inputs named in ``types``, decoded as those types (see :meth:`typed_outputs`)."""
        with preserve_original_types(self._preserve_original_types):
            return await self.action.typed_inputs.aio(types, deserializers)

    @syncify_method
    async def typed_outputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The outputs named in ``types`` (e.g. ``{"o0": MyModel}``), decoded as those types.

        A type with an entry in ``deserializers`` gets the raw payload (a ``dict`` for structured
        values) through that function instead.

        Example:
            >>> run.typed_outputs({"o0": Summary})["o0"]  # doctest: +SKIP
        """
        with preserve_original_types(self._preserve_original_types):
            return await self.action.typed_outputs.aio(types, deserializers)

    @syncify_method
    async def get_report(self, attempt: int | None = None) -> str:
        """The HTML report the root task wrote with ``flyte.report`` (default: its latest attempt).

        Raises:
            flyte.errors.NotFoundError: the attempt wrote no report.

        Example:
            >>> html = flyte.remote.Run.get("r1").get_report()  # doctest: +SKIP
        """
        return await self.action.get_report.aio(attempt)

    @syncify_method
    async def download_code(
        self, dest: str | Path | None = None, extract: bool = True, attempt: int | None = None
    ) -> Path:
        """Download the code the run executed (see :meth:`flyte.remote.Action.download_code`)."""
        return await self.action.download_code.aio(dest, extract, attempt)

    @syncify_method
    async def code_bundle(self) -> CodeBundle | None:
        """Where the run's code bundle is (``tgz`` or ``pkl`` URI), or ``None`` for code in the image."""
        from flyte.remote._action import fetch_details
        from flyte.remote._action_extras import code_bundle_of

        action = self.action
        details = await fetch_details(action.project, action.domain, action.run_name, action.name)
        return code_bundle_of(details.task) if details.HasField("task") else None

    @syncify_method
    async def first_failure(self) -> ActionDetails | None:
        """The action of the run that failed first (the earliest to end failed), or ``None``."""
        from flyte.remote._action import Action

        action = self.action
        failed = await Action.listall.aio(
            action.run_name, in_phase=("failed", "timed_out"), project=action.project, domain=action.domain
        )
        if not failed:
            return None
        earliest = min(failed, key=lambda item: (item.end_time is None, item.end_time or item.start_time, item.name))
        return await earliest.details.aio()

    @syncify_method
    async def get_debug_url(self) -> str | None:
        """The URL of the debugger of a ``debug=True`` run: ``None`` here (workers start no VS Code server)."""
        return None


class RunDetailsExtras(_RootData):
    """The data members of :class:`flyte.remote.RunDetails` (the root action's)."""

    @syncify_classmethod
    @classmethod
    async def get(cls, name: str, *, project: str | None = None, domain: str | None = None) -> Any:
        """The details of the run named ``name`` (its settings and root action).

        Raises:
            flyte.errors.ActionNotFoundError: there is no such run.
        """
        from flyte.remote._common import scope
        from flyte.remote._run import RunDetails, _run_details

        project, domain = scope(project, domain)
        return RunDetails._from_proto(await _run_details(project, domain, name))

    def done(self) -> bool:
        """Whether the run had ended when these details were read."""
        return self.action.done()

    @syncify_method
    async def inputs(self) -> Any:
        """The root task's inputs by name."""
        return await self.action.inputs.aio()

    @syncify_method
    async def outputs(self) -> Any:
        """The root task's outputs (waits for the run to end)."""
        return await self.action.outputs.aio()

    @syncify_method
    async def input_literals(self) -> dict[str, literals_pb2.Literal]:
        """The root task's inputs as ``flyteidl2`` literals by name."""
        return await self.action.input_literals.aio()

    @syncify_method
    async def output_literals(self) -> dict[str, literals_pb2.Literal]:
        """The root task's outputs as ``flyteidl2`` literals by name."""
        return await self.action.output_literals.aio()

    @syncify_method
    async def typed_inputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The inputs named in ``types``, decoded as those types."""
        return await self.action.typed_inputs.aio(types, deserializers)

    @syncify_method
    async def typed_outputs(
        self, types: dict[str, type], deserializers: dict[type, Callable[[Any], Any]] | None = None
    ) -> dict[str, Any]:
        """The outputs named in ``types``, decoded as those types."""
        return await self.action.typed_outputs.aio(types, deserializers)
