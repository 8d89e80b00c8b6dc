"""The remote controller and the backend paths it submits nested actions through."""

from __future__ import annotations

from flyte._internal.controllers.remote._controller import RemoteController, action_id_to_proto
from flyte._internal.controllers.remote._informer import Informer
from flyte._internal.controllers.remote._service import (
    ActionService,
    ActionsServiceAdapter,
    QueueStateService,
    service_for,
)

__all__ = [
    "ActionService",
    "ActionsServiceAdapter",
    "Informer",
    "QueueStateService",
    "RemoteController",
    "action_id_to_proto",
    "service_for",
]
