"""``ClusterService``: this server is the only cluster, so every operation stays on this endpoint."""

from __future__ import annotations

from typing import Any

from connectrpc.request import RequestContext
from flyteidl2.cluster import payload_pb2, service_connect
from flyteidl2.cluster.service_connect import ClusterServiceASGIApplication

__all__ = ["ClusterService", "cluster_app"]


class ClusterService(service_connect.ClusterService):  # type: ignore[misc]  # the generated stubs are untyped
    """Answers ``SelectCluster`` with an empty endpoint: the SDK then keeps using its own client.

    Example:
        >>> import asyncio
        >>> asyncio.run(ClusterService().select_cluster(payload_pb2.SelectClusterRequest(), None)).cluster_endpoint
        ''
    """

    async def select_cluster(
        self, request: payload_pb2.SelectClusterRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.SelectClusterResponse:
        return payload_pb2.SelectClusterResponse()


def cluster_app(*, interceptors: Any = (), read_max_bytes: int | None = None) -> ClusterServiceASGIApplication:
    """The Connect application serving :class:`ClusterService`."""
    return ClusterServiceASGIApplication(ClusterService(), interceptors=interceptors, read_max_bytes=read_max_bytes)
