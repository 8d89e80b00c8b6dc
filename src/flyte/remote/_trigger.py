"""``flyte.remote.Trigger``: schedules that start runs of a deployed task.

Triggers are usually deployed with their task (``@env.task(triggers=...)`` + ``flyte.deploy``);
these handles list, inspect, (de)activate, create and delete them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.remote._common import ToDict, control_plane_error, dataproxy_for, get_clients, org, scope, to_datetime
from flyte.remote._listing import syncify_listing

if TYPE_CHECKING:
    from flyteidl2.common import identifier_pb2
    from flyteidl2.task import common_pb2

    from flyte._trigger import Trigger as TriggerSpec

__all__ = ["Trigger", "TriggerDetails"]


def _schedule(automation: common_pb2.TriggerAutomationSpec) -> str | None:
    from flyteidl2.task import common_pb2

    if automation.type != common_pb2.TYPE_SCHEDULE:
        return None
    schedule = automation.schedule
    which = schedule.WhichOneof("expression")
    if which == "cron":
        zone = f" ({schedule.cron.timezone})" if schedule.cron.timezone else ""
        return f"cron {schedule.cron.expression}{zone}"
    if which == "cron_expression":
        return f"cron {schedule.cron_expression}"
    if which == "rate":
        unit = common_pb2.FixedRateUnit.Name(schedule.rate.unit).removeprefix("FIXED_RATE_UNIT_").lower()
        return f"every {schedule.rate.value} {unit}(s)"
    return None


def _name(name: str, task_name: str, project: str, domain: str) -> identifier_pb2.TriggerName:
    from flyteidl2.common import identifier_pb2

    return identifier_pb2.TriggerName(org=org(), project=project, domain=domain, name=name, task_name=task_name)


@dataclass(frozen=True)
class Trigger(ToDict):
    """A deployed trigger of a task.

    Example:
        >>> [t.name for t in flyte.remote.Trigger.listall(task_name="demo.main")]  # doctest: +SKIP
        ['nightly']
        >>> flyte.remote.Trigger.deactivate("nightly", "demo.main")  # doctest: +SKIP
    """

    name: str
    """The trigger's name (unique per task)."""
    task_name: str
    """The task it runs."""
    project: str
    """Its project."""
    domain: str
    """Its domain."""
    active: bool
    """Whether it fires."""
    schedule: str | None = None
    """``"cron 0 2 * * * (UTC)"``, ``"every 5 minute(s)"``, or ``None`` (fired on demand only)."""
    task_version: str | None = None
    """The task version it runs (``None``: the latest)."""
    description: str = ""
    """What it is for."""
    deployed_at: datetime | None = None
    """When it was deployed."""
    triggered_at: datetime | None = None
    """When it last fired."""

    @classmethod
    def _from_proto(cls, trigger: Any) -> Trigger:
        name = trigger.id.name
        spec = getattr(trigger, "spec", None)
        active = spec.active if spec is not None else trigger.active
        status = trigger.status
        return cls(
            name=name.name,
            task_name=name.task_name,
            project=name.project,
            domain=name.domain,
            active=bool(active),
            schedule=_schedule(trigger.automation_spec),
            task_version=(spec.task_version or None) if spec is not None else None,
            description=getattr(trigger, "description", "") or (spec.description if spec is not None else ""),
            deployed_at=to_datetime(status.deployed_at) if status.HasField("deployed_at") else None,
            triggered_at=to_datetime(status.triggered_at) if status.HasField("triggered_at") else None,
        )

    @property
    def is_active(self) -> bool:
        """Whether the trigger fires (``active``)."""
        return self.active

    @property
    def automation_spec(self) -> str | None:
        """When it fires: ``"cron 0 2 * * * (UTC)"``, ``"every 5 minute(s)"``, or ``None`` (on demand)."""
        return self.schedule

    @syncify_method
    async def get_details(self) -> TriggerDetails:
        """This trigger's current details, read again from the control plane."""
        return await type(self).get.aio(self.name, self.task_name, project=self.project, domain=self.domain)

    @syncify_classmethod
    @classmethod
    async def update(
        cls, name: str, task_name: str, active: bool, *, project: str | None = None, domain: str | None = None
    ) -> None:
        """Turn the trigger on (``active=True``) or off; it stays deployed either way.

        Raises:
            flyte.errors.NotFoundError: there is no such trigger.
        """
        await _set_active(name, task_name, project, domain, bool(active))

    @syncify_classmethod
    @classmethod
    async def get(
        cls, name: str, task_name: str, *, project: str | None = None, domain: str | None = None
    ) -> TriggerDetails:
        """The trigger ``name`` of ``task_name``, with its details.

        Raises:
            flyte.errors.NotFoundError: there is no such trigger.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.trigger import trigger_service_pb2

        project, domain = scope(project, domain)
        try:
            response = await get_clients().trigger_service.get_trigger_details(
                trigger_service_pb2.GetTriggerDetailsRequest(name=_name(name, task_name, project, domain))
            )
        except ConnectError as error:
            raise control_plane_error(error, f"trigger {name!r} of task {task_name!r} in {project}/{domain}") from error
        details = TriggerDetails._from_proto(response.trigger)
        assert isinstance(details, TriggerDetails)
        return details

    @syncify_listing
    @classmethod
    async def listall(
        cls,
        task_name: str | None = None,
        task_version: str | None = None,
        limit: int = 100,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> list[Trigger]:
        """Triggers of a project and domain (only those of ``task_name``, and of its ``task_version``,
        when given)."""
        from connectrpc.errors import ConnectError
        from flyteidl2.common import identifier_pb2, list_pb2
        from flyteidl2.task import task_definition_pb2
        from flyteidl2.trigger import trigger_service_pb2

        project, domain = scope(project, domain)
        found: list[Trigger] = []
        token = ""
        while len(found) < limit:
            request = trigger_service_pb2.ListTriggersRequest(
                request=list_pb2.ListRequest(limit=min(100, limit - len(found)), token=token)
            )
            if task_name and task_version:
                request.task_id.CopyFrom(
                    task_definition_pb2.TaskIdentifier(
                        org=org(), project=project, domain=domain, name=task_name, version=task_version
                    )
                )
            elif task_name:
                request.task_name.CopyFrom(
                    task_definition_pb2.TaskName(org=org(), project=project, domain=domain, name=task_name)
                )
            else:
                request.project_id.CopyFrom(
                    identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org())
                )
            try:
                response = await get_clients().trigger_service.list_triggers(request)
            except ConnectError as error:
                raise control_plane_error(error, f"listing triggers of {project}/{domain}", explain=True) from error
            found.extend(cls._from_proto(trigger) for trigger in response.triggers)
            token = response.token
            if not token or not response.triggers:
                break
        return found[:limit]

    @syncify_classmethod
    @classmethod
    async def create(
        cls,
        trigger: TriggerSpec,
        task_name: str,
        *,
        task_version: str | None = None,
        project: str | None = None,
        domain: str | None = None,
    ) -> Trigger:
        """Deploy ``trigger`` (a :class:`flyte.Trigger`) for a deployed task.

        Its inputs are checked against the task's interface (the latest version unless
        ``task_version``), and offloaded like Flyte 2 does.

        Raises:
            flyte.errors.RemoteTaskNotFoundError: the task is not deployed.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.trigger import trigger_definition_pb2, trigger_service_pb2

        from flyte._internal.serde import trigger_inputs, trigger_to_proto
        from flyte.remote._task import Task

        project, domain = scope(project, domain)
        if task_version:
            reference = Task.get(task_name, project=project, domain=domain, version=task_version)
        else:
            reference = Task.get(task_name, project=project, domain=domain, auto_version="latest")
        details = await reference.fetch.aio()
        shim: Any = SimpleNamespace(name=details.name, interface=details.interface)
        inputs = await trigger_inputs(trigger, shim)
        offloaded = None
        if inputs.literals:
            client = await dataproxy_for("OPERATION_UPLOAD_TRIGGER", project, domain, optional=True)
            if client is not None:
                from flyteidl2.common import identifier_pb2
                from flyteidl2.dataproxy import dataproxy_service_pb2

                upload = dataproxy_service_pb2.UploadInputsRequest(
                    project_id=identifier_pb2.ProjectIdentifier(name=project, domain=domain, organization=org()),
                    task_id=details._task_id(),
                    inputs=inputs,
                )
                try:
                    offloaded = (await client.upload_inputs(upload)).offloaded_input_data
                except ConnectError as error:
                    raise control_plane_error(error, f"the inputs of trigger {trigger.name!r}", explain=True) from error
        if trigger.automation is not None:
            task_trigger = trigger_to_proto(trigger, inputs=inputs, offloaded_inputs=offloaded)
            automation = task_trigger.automation_spec
            run_spec = task_trigger.spec.run_spec
        else:
            from flyteidl2.task import common_pb2

            automation = common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_NONE)
            run_spec = None
        spec = trigger_definition_pb2.TriggerSpec(
            active=trigger.auto_activate, task_version=details.version, description=trigger.description or ""
        )
        if run_spec is not None:
            spec.run_spec.CopyFrom(run_spec)
        if offloaded is not None:
            spec.offloaded_input_data.CopyFrom(offloaded)
        elif inputs.literals:
            spec.inputs.CopyFrom(inputs)
        request = trigger_service_pb2.DeployTriggerRequest(
            name=_name(trigger.name, task_name, project, domain), spec=spec, automation_spec=automation
        )
        try:
            response = await get_clients().trigger_service.deploy_trigger(request)
        except ConnectError as error:
            raise control_plane_error(error, f"deploying trigger {trigger.name!r}", explain=True) from error
        return cls._from_proto(response.trigger)

    @syncify_classmethod
    @classmethod
    async def activate(
        cls, name: str, task_name: str, *, project: str | None = None, domain: str | None = None
    ) -> None:
        """Let the trigger fire again."""
        await _set_active(name, task_name, project, domain, True)

    @syncify_classmethod
    @classmethod
    async def deactivate(
        cls, name: str, task_name: str, *, project: str | None = None, domain: str | None = None
    ) -> None:
        """Stop the trigger from firing (it stays deployed)."""
        await _set_active(name, task_name, project, domain, False)

    @syncify_classmethod
    @classmethod
    async def delete(cls, name: str, task_name: str, *, project: str | None = None, domain: str | None = None) -> None:
        """Delete the trigger.

        Raises:
            flyte.errors.NotFoundError: there is no such trigger.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.trigger import trigger_service_pb2

        project, domain = scope(project, domain)
        try:
            await get_clients().trigger_service.delete_triggers(
                trigger_service_pb2.DeleteTriggersRequest(names=[_name(name, task_name, project, domain)])
            )
        except ConnectError as error:
            raise control_plane_error(error, f"trigger {name!r} of task {task_name!r} in {project}/{domain}") from error


@dataclass(frozen=True)
class TriggerDetails(Trigger):
    """A trigger as :meth:`Trigger.get` reads it: the :class:`Trigger` fields, and the trigger itself.

    Example:
        >>> details = flyte.remote.Trigger.get("nightly", "demo.main")  # doctest: +SKIP
        >>> details.is_active, details.automation_spec  # doctest: +SKIP
        (True, 'cron 0 2 * * * (UTC)')
    """

    @property
    def trigger(self) -> Trigger:
        """The trigger (without the details view)."""
        from dataclasses import fields

        return Trigger(**{item.name: getattr(self, item.name) for item in fields(Trigger)})


async def _set_active(name: str, task_name: str, project: str | None, domain: str | None, active: bool) -> None:
    from connectrpc.errors import ConnectError
    from flyteidl2.trigger import trigger_service_pb2

    project, domain = scope(project, domain)
    try:
        await get_clients().trigger_service.update_triggers(
            trigger_service_pb2.UpdateTriggersRequest(names=[_name(name, task_name, project, domain)], active=active)
        )
    except ConnectError as error:
        raise control_plane_error(error, f"trigger {name!r} of task {task_name!r} in {project}/{domain}") from error
