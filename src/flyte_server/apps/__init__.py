"""Apps on the control plane: the supervisor that runs them, the reverse proxy at ``/apps/<name>/`` (docs/apps.md)."""

from __future__ import annotations

from flyte_server.apps.proxy import APPS_PREFIX, AppProxy
from flyte_server.apps.supervisor import AppNotRunning, AppSupervisor

__all__ = ["APPS_PREFIX", "AppNotRunning", "AppProxy", "AppSupervisor"]
