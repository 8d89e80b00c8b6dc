"""Every table of the store. Importing this package registers them on ``Base.metadata``.

Each module owns the tables of one concept; add new modules to the import list below.
"""

from __future__ import annotations

from flyte_server.store.models import apps, cache, notifications, projects, replicas, runs, secrets, tasks, triggers

__all__ = ["apps", "cache", "notifications", "projects", "replicas", "runs", "secrets", "tasks", "triggers"]
