"""``flyte.Trigger`` → ``TaskTrigger`` (deployed with its task), as the Flyte 2 SDK sends it.

A trigger's inputs are the task's defaults overlaid with the trigger's values; an input given as
``flyte.TriggerTime`` keeps only its default (if any) and is named in
``schedule.kickoff_time_input_arg`` (and in the inputs' context as ``_u_kickoff_time_input_arg``),
so the backend fills in the fire time. The
client offloads the inputs with ``DataProxy.UploadInputs`` and passes the result here.
"""

from __future__ import annotations

import inspect
from datetime import timezone
from typing import TYPE_CHECKING, Any

from flyteidl2.core import literals_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from google.protobuf import timestamp_pb2, wrappers_pb2

if TYPE_CHECKING:
    from flyteidl2.common import run_pb2 as common_run_pb2

    from flyte._task import TaskTemplate
    from flyte._trigger import Trigger

__all__ = ["KICKOFF_CONTEXT_KEY", "kickoff_input", "trigger_inputs", "trigger_to_proto"]

KICKOFF_CONTEXT_KEY = "_u_kickoff_time_input_arg"


def kickoff_input(trigger: Trigger) -> str | None:
    """The name of the input that receives the fire time, if any."""
    from flyte._trigger import TriggerTime

    for name, value in (trigger.inputs or {}).items():
        if value is TriggerTime:
            return name
    return None


async def trigger_inputs(trigger: Trigger, task: TaskTemplate[Any, Any]) -> common_pb2.Inputs:
    """The ``Inputs`` of each run the trigger starts (defaults filled in, the fire time left out).

    Raises:
        flyte.errors.RuntimeDataValidationError: a value does not match its input's type.
    """
    from flyte.types._interface import NativeInterface, convert_inputs_to_literals

    kickoff = kickoff_input(trigger)
    given = {name: value for name, value in (trigger.inputs or {}).items() if name != kickoff}
    interface = task.interface
    # Defaults are filled in for every input, the fire-time input included (the backend replaces it).
    names = [
        name
        for name, (_, default) in interface.inputs.items()
        if name in given or default is not inspect.Parameter.empty
    ]
    unknown = sorted(set(given) - set(interface.inputs))
    if unknown:
        raise ValueError(f"Trigger {trigger.name!r} sets unknown input(s) {unknown} of task {task.name}")
    subset = NativeInterface.from_types({name: interface.inputs[name] for name in names}, {})
    literals = await convert_inputs_to_literals(subset, given, task_name=task.name)
    inputs = common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name=n, value=v) for n, v in literals.items()])
    if kickoff is not None:
        inputs.context.append(literals_pb2.KeyValuePair(key=KICKOFF_CONTEXT_KEY, value=kickoff))
    return inputs


def _run_spec(trigger: Trigger) -> run_pb2.RunSpec:
    spec = run_pb2.RunSpec()
    if trigger.labels:
        spec.labels.values.update(dict(trigger.labels))
    if trigger.annotations:
        spec.annotations.values.update(dict(trigger.annotations))
    if trigger.env_vars:
        spec.envs.values.extend(literals_pb2.KeyValuePair(key=k, value=v) for k, v in trigger.env_vars.items())
    if trigger.interruptible is not None:
        spec.interruptible.CopyFrom(wrappers_pb2.BoolValue(value=trigger.interruptible))
    spec.overwrite_cache = trigger.overwrite_cache
    if trigger.queue:
        spec.queue = trigger.queue
    if trigger.max_action_concurrency is not None:
        spec.max_action_concurrency = trigger.max_action_concurrency
    return spec


def _automation(trigger: Trigger) -> common_pb2.TriggerAutomationSpec:
    from flyte._artifact_trigger import OnArtifact
    from flyte._trigger import Cron, FixedRate

    schedule = common_pb2.Schedule()
    automation = trigger.automation
    if isinstance(automation, OnArtifact):
        raise ValueError(
            f"Trigger {trigger.name!r} fires on artifact {automation.name!r}, but this control plane has no "
            "artifact service; use a flyte.Cron or flyte.FixedRate schedule"
        )
    if isinstance(automation, Cron):
        schedule.cron.CopyFrom(common_pb2.Cron(expression=automation.expression, timezone=automation.timezone))
    elif isinstance(automation, FixedRate):
        schedule.rate.value = automation.interval_minutes
        schedule.rate.unit = common_pb2.FIXED_RATE_UNIT_MINUTE
        if automation.start_time is not None:
            start = automation.start_time
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(start.astimezone(timezone.utc))
            schedule.rate.start_time.CopyFrom(stamp)
    else:
        raise ValueError(f"Trigger {trigger.name!r} has no schedule (a flyte.Cron or flyte.FixedRate)")
    kickoff = kickoff_input(trigger)
    if kickoff is not None:
        schedule.kickoff_time_input_arg = kickoff
    return common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=schedule)


def trigger_to_proto(
    trigger: Trigger,
    *,
    inputs: common_pb2.Inputs | None = None,
    offloaded_inputs: common_run_pb2.OffloadedInputData | None = None,
) -> task_definition_pb2.TaskTrigger:
    """The ``TaskTrigger`` for ``trigger``, with its inputs inline or offloaded (what Flyte 2 sends).

    Example:
        >>> from flyte import Cron, Trigger
        >>> trigger_to_proto(Trigger("nightly", Cron("0 2 * * *"))).automation_spec.schedule.cron.expression
        '0 2 * * *'
    """
    spec = task_definition_pb2.TaskTriggerSpec(
        active=trigger.auto_activate, run_spec=_run_spec(trigger), description=trigger.description or ""
    )
    if offloaded_inputs is not None:
        spec.offloaded_input_data.CopyFrom(offloaded_inputs)
    elif inputs is not None:
        spec.inputs.CopyFrom(inputs)
    return task_definition_pb2.TaskTrigger(name=trigger.name, spec=spec, automation_spec=_automation(trigger))
