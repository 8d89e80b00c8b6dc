"""Task resolvers: how a worker process finds the task it must run inside a code bundle.

A resolver turns a task into ``loader_args`` at serialisation time (written after
``--resolver <import path>`` in the container args) and turns those arguments back into the task
in the worker. The default one, :class:`default.DefaultTaskResolver`, writes
``mod <module> instance <variable>``, exactly as the Flyte 2 SDK does, so workers of either SDK
can load tasks deployed by the other.
"""

from __future__ import annotations

from flyte._internal.resolvers.common import Resolver, load_resolver

__all__ = ["Resolver", "load_resolver"]
