"""Handles on a Flyte control plane: runs, actions, tasks, projects (client side).

The Connect clients live in :mod:`flyte.remote._client`.
"""

from __future__ import annotations

__all__: list[str] = []
