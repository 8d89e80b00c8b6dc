"""ClientSet: endpoints, retries on UNAVAILABLE, deadlines, cancellation and unreachable servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.cluster import payload_pb2, service_connect

import flyte
from flyte.errors import InitializationError, RuntimeSystemError
from flyte.remote._client import ClientSet, normalize_endpoint


@pytest.mark.parametrize(
    ("endpoint", "insecure", "expected"),
    [
        ("localhost:8090", True, "http://localhost:8090"),
        ("localhost:8090", False, "https://localhost:8090"),
        ("dns:///flyte.example.com:443", False, "https://flyte.example.com:443"),
        ("dns:///localhost:8090", True, "http://localhost:8090"),
        ("http://127.0.0.1:8090/", False, "http://127.0.0.1:8090"),
        ("https://host/prefix/", True, "https://host/prefix"),
        ("  host:1  ", True, "http://host:1"),
    ],
)
def test_endpoints_are_normalised(endpoint: str, insecure: bool, expected: str):
    assert normalize_endpoint(endpoint, insecure=insecure) == expected


@pytest.mark.parametrize("endpoint", ["", "   ", "ftp://host", "http://"])
def test_unusable_endpoints_are_rejected(endpoint: str):
    with pytest.raises(ValueError, match="endpoint"):
        normalize_endpoint(endpoint)


def test_clients_come_from_init_config_or_the_task_environment():
    flyte.init(endpoint="localhost:8090", insecure=True, project="p", domain="d")
    assert ClientSet.from_init_config().endpoint == "http://localhost:8090"
    flyte.init()
    with pytest.raises(InitializationError, match="No Flyte endpoint"):
        ClientSet.from_init_config()

    assert ClientSet.from_env({"_U_EP_OVERRIDE": "host.docker.internal:8090"}).endpoint == (
        "http://host.docker.internal:8090"
    )
    assert ClientSet.from_env({"_U_EP_OVERRIDE": "flyte.svc:8090"}).endpoint == "https://flyte.svc:8090"
    assert ClientSet.from_env({"_U_EP_OVERRIDE": "flyte.svc:8090", "_U_INSECURE": "true"}).endpoint == (
        "http://flyte.svc:8090"
    )
    with pytest.raises(RuntimeSystemError, match="_U_EP_OVERRIDE"):
        ClientSet.from_env({})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_gives_one_line_naming_the_endpoint():
    port = _closed_port()
    clients = ClientSet.for_endpoint(f"127.0.0.1:{port}", insecure=True, retries=1)
    with pytest.raises(ConnectError) as raised:
        await clients.cluster_service.select_cluster(payload_pb2.SelectClusterRequest())
    assert raised.value.code == Code.UNAVAILABLE
    message = str(raised.value)
    assert f"http://127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert "\n" not in message


class _Cluster(service_connect.ClusterService):
    def __init__(self) -> None:
        self.calls = 0
        self.unavailable = 0
        self.delay = 0.0
        self.request_ids: list[str] = []

    async def select_cluster(
        self, request: payload_pb2.SelectClusterRequest, ctx: RequestContext[Any, Any]
    ) -> payload_pb2.SelectClusterResponse:
        self.calls += 1
        self.request_ids.append(ctx.request_headers().get("x-request-id", ""))
        if self.calls <= self.unavailable:
            raise ConnectError(Code.UNAVAILABLE, "warming up")
        if self.delay:
            await asyncio.sleep(self.delay)
        return payload_pb2.SelectClusterResponse(cluster_endpoint="ok")


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[_Cluster, str]]:
    service = _Cluster()
    port = _closed_port()
    config = uvicorn.Config(
        service_connect.ClusterServiceASGIApplication(service),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield service, f"127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def test_unavailable_is_retried_with_backoff(cluster: tuple[_Cluster, str]):
    service, endpoint = cluster
    service.unavailable = 2
    clients = ClientSet.for_endpoint(endpoint, insecure=True, retries=3, request_id_prefix="p-d-r1-a0")
    response = await clients.cluster_service.select_cluster(payload_pb2.SelectClusterRequest())
    assert response.cluster_endpoint == "ok"
    assert service.calls == 3
    assert all(request_id.startswith("p-d-r1-a0-") for request_id in service.request_ids)


async def test_calls_have_a_default_deadline(cluster: tuple[_Cluster, str]):
    service, endpoint = cluster
    service.delay = 5
    clients = ClientSet.for_endpoint(endpoint, insecure=True, timeout_s=0.2)
    with pytest.raises(ConnectError) as raised:
        await clients.cluster_service.select_cluster(payload_pb2.SelectClusterRequest())
    assert raised.value.code == Code.DEADLINE_EXCEEDED
    assert "ClusterService/SelectCluster" in str(raised.value)


async def test_cancelling_a_call_cancels_instead_of_raising_an_rpc_error(cluster: tuple[_Cluster, str]):
    service, endpoint = cluster
    service.delay = 5
    clients = ClientSet.for_endpoint(endpoint, insecure=True)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(clients.cluster_service.select_cluster(payload_pb2.SelectClusterRequest()), 0.2)
