"""``flyte.remote.Condition``: a point where a run waits for an outside signal (a condition action).

Conditions are actions of type ``CONDITION``; :meth:`Condition.listall` lists a run's ones
(``ListActions`` filtered on ``action_type``), :meth:`Condition.signal` resolves one
(``RunService.SignalEvent``). A control plane that runs no condition actions (ours refuses them
at submission) simply lists none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.errors import ActionNotFoundError
from flyte.models import ActionPhase
from flyte.remote._common import ToDict, control_plane_error, get_clients, phase_from_proto, scope
from flyte.remote._listing import syncify_listing

if TYPE_CHECKING:
    from flyteidl2.workflow import run_definition_pb2

__all__ = ["Condition", "ConditionPayload"]

ConditionPayload = bool | int | float | str
"""What a condition can be signalled with."""


@dataclass(frozen=True)
class Condition(ToDict):
    """A condition of a run, waiting for (or resolved by) a signal.

    Example:
        >>> [c.name for c in flyte.remote.Condition.listall(run_name="r1")]  # doctest: +SKIP
        ['approve']
        >>> flyte.remote.Condition.get("approve", run_name="r1").signal(True)  # doctest: +SKIP
    """

    name: str
    """The condition's declared name."""
    action_name: str
    """The condition action's name."""
    run_name: str
    """The run it belongs to."""
    project: str
    """The run's project."""
    domain: str
    """The run's domain."""
    phase: ActionPhase
    """The condition action's phase (``RUNNING`` while it waits)."""
    parent: str = ""
    """The action that declared it."""
    expected_type: type | None = None
    """The payload type it expects (``bool``, ``int``, ``float``, ``str``), when the server says."""

    @classmethod
    def _from_proto(cls, action: run_definition_pb2.Action) -> Condition:
        from flyteidl2.core import types_pb2

        metadata = action.metadata
        declared = metadata.condition if metadata.HasField("condition") else None
        expected: type | None = None
        if declared is not None and declared.HasField("type"):
            expected = {
                types_pb2.BOOLEAN: bool,
                types_pb2.INTEGER: int,
                types_pb2.FLOAT: float,
                types_pb2.STRING: str,
            }.get(declared.type.simple)
        return cls(
            name=(declared.name if declared is not None and declared.name else action.id.name),
            action_name=action.id.name,
            run_name=action.id.run.name,
            project=action.id.run.project,
            domain=action.id.run.domain,
            phase=phase_from_proto(action.status.phase),
            parent=metadata.parent,
            expected_type=expected,
        )

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        run_name: str,
        action_name: str | None = None,
        limit: int = 100,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> list[Condition]:
        """The conditions of a run (only those declared by ``action_name`` when given).

        Raises:
            flyte.errors.ActionNotFoundError: there is no such run.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.common import list_pb2
        from flyteidl2.workflow import run_definition_pb2, run_service_pb2

        from flyte.remote._action import run_id

        project, domain = scope(project, domain)
        filters = [
            list_pb2.Filter(
                field="action_type",
                function=list_pb2.Filter.EQUAL,
                values=[str(int(run_definition_pb2.ACTION_TYPE_CONDITION))],
            )
        ]
        if action_name is not None:
            filters.append(list_pb2.Filter(field="parent", function=list_pb2.Filter.EQUAL, values=[action_name]))
        found: list[Condition] = []
        token = ""
        while len(found) < limit:
            request = run_service_pb2.ListActionsRequest(
                run_id=run_id(project, domain, run_name),
                request=list_pb2.ListRequest(limit=min(100, limit - len(found)), token=token, filters=filters),
            )
            try:
                response = await get_clients().run_service.list_actions(request)
            except ConnectError as error:
                raise control_plane_error(
                    error, f"run {run_name!r} in {project}/{domain}", not_found=ActionNotFoundError
                ) from error
            found.extend(cls._from_proto(action) for action in response.actions)
            token = response.token
            if not token or not response.actions:
                break
        return found[:limit]

    @syncify_classmethod
    @classmethod
    async def get(
        cls,
        name: str,
        run_name: str,
        action_name: str | None = None,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> Condition | None:
        """The condition ``name`` of a run, or ``None`` when the run has none by that name."""
        for condition in await cls.listall.aio(run_name, action_name, project=project, domain=domain):
            if condition.name == name:
                return condition
        return None

    @syncify_method
    async def signal(self, payload: ConditionPayload) -> None:
        """Resolve the condition with ``payload`` (a ``bool``, ``int``, ``float`` or ``str``).

        Raises:
            TypeError: another kind of payload.
            flyte.errors.ControlPlaneError: the control plane refused the signal.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.workflow import run_service_pb2

        from flyte.remote._action import action_id

        request = run_service_pb2.SignalEventRequest(
            action_id=action_id(self.project, self.domain, self.run_name, self.action_name),
            parent_action_name=self.parent,
            payload=_payload(payload),
        )
        try:
            await get_clients().run_service.signal_event(request)
        except ConnectError as error:
            raise control_plane_error(
                error, f"signalling condition {self.name!r} of run {self.run_name!r}", explain=True
            ) from error


def _payload(value: Any) -> Any:
    from flyteidl2.workflow import run_service_pb2

    # bool first: it is an int too.
    if isinstance(value, bool):
        return run_service_pb2.EventPayload(bool_value=value)
    if isinstance(value, int):
        return run_service_pb2.EventPayload(int_value=value)
    if isinstance(value, float):
        return run_service_pb2.EventPayload(float_value=value)
    if isinstance(value, str):
        return run_service_pb2.EventPayload(string_value=value)
    raise TypeError(f"A condition is signalled with a bool, int, float or str, got {type(value).__name__}")
