"""ProjectService, ClusterService and IdentityService over real Connect RPCs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.auth import identity_pb2
from flyteidl2.cluster import payload_pb2 as cluster_pb2
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.project import project_service_pb2 as pb
from flyteidl2.task import run_pb2

from flyte_server.store.db import Database
from flyte_server.store.projects import list_projects

if TYPE_CHECKING:
    from conftest import Clients


async def _project_ids(database: Database) -> list[str]:
    async with database.session() as session:
        return [row.identifier for row in await list_projects(session, limit=1000)]


async def test_default_project_has_the_three_domains(clients: Clients) -> None:
    reply = await clients.projects.get_project(pb.GetProjectRequest(id="flytesnacks"))
    assert reply.project.id == "flytesnacks"
    assert [domain.id for domain in reply.project.domains] == ["development", "staging", "production"]


async def test_create_get_update_and_list_projects(clients: Clients) -> None:
    labels = run_pb2.Labels(values={"team": "ml"})
    await clients.projects.create_project(
        pb.CreateProjectRequest(project=pb.Project(id="alpha", name="Alpha", description="first", labels=labels))
    )
    got = (await clients.projects.get_project(pb.GetProjectRequest(id="alpha"))).project
    assert (got.name, got.description, dict(got.labels.values)) == ("Alpha", "first", {"team": "ml"})

    archived = pb.Project(id="alpha", name="Alpha", description="old", state=pb.PROJECT_STATE_ARCHIVED)
    await clients.projects.update_project(pb.UpdateProjectRequest(project=archived))
    got = (await clients.projects.get_project(pb.GetProjectRequest(id="alpha"))).project
    assert (got.description, got.state, dict(got.labels.values)) == ("old", pb.PROJECT_STATE_ARCHIVED, {})

    active = await clients.projects.list_projects(pb.ListProjectsRequest(filters="eq(state, 0)"))  # as the CLI sends it
    assert "alpha" not in [project.id for project in active.projects.projects]
    everything = await clients.projects.list_projects(pb.ListProjectsRequest())
    assert {"alpha", "flytesnacks"} <= {project.id for project in everything.projects.projects}


async def test_list_projects_pages_with_tokens(clients: Clients) -> None:
    for name in ("page-a", "page-b", "page-c"):
        await clients.projects.create_project(pb.CreateProjectRequest(project=pb.Project(id=name)))
    seen: list[str] = []
    token = ""
    while True:
        reply = await clients.projects.list_projects(pb.ListProjectsRequest(limit=2, token=token))
        assert len(reply.projects.projects) <= 2
        seen += [project.id for project in reply.projects.projects]
        token = reply.projects.token
        if not token:
            break
    assert seen == sorted(seen) and {"page-a", "page-b", "page-c", "flytesnacks"} <= set(seen)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("project_id", "code"),
    [("flytesnacks", Code.ALREADY_EXISTS), ("Bad_ID", Code.INVALID_ARGUMENT), ("", Code.INVALID_ARGUMENT)],
)
async def test_create_project_rejects_duplicates_and_bad_ids(
    clients: Clients, server_database: Database, project_id: str, code: Code
) -> None:
    before = await _project_ids(server_database)
    with pytest.raises(ConnectError) as caught:
        await clients.projects.create_project(pb.CreateProjectRequest(project=pb.Project(id=project_id)))
    assert caught.value.code == code
    assert "\n" not in caught.value.message
    assert await _project_ids(server_database) == before


async def test_unknown_project_is_not_found(clients: Clients) -> None:
    with pytest.raises(ConnectError) as caught:
        await clients.projects.get_project(pb.GetProjectRequest(id="no-such-project"))
    assert caught.value.code == Code.NOT_FOUND
    with pytest.raises(ConnectError) as caught:
        await clients.projects.update_project(pb.UpdateProjectRequest(project=pb.Project(id="no-such-project")))
    assert caught.value.code == Code.NOT_FOUND


async def test_list_projects_sorts_newest_first_when_asked(clients: Clients) -> None:
    for name in ("sort-b", "sort-a"):
        await clients.projects.create_project(pb.CreateProjectRequest(project=pb.Project(id=name)))
    newest_first = list_pb2.Sort(key="created_at", direction=list_pb2.Sort.DESCENDING)
    reply = await clients.projects.list_projects(pb.ListProjectsRequest(sort_by=newest_first))
    ids = [project.id for project in reply.projects.projects]
    assert ids.index("sort-a") < ids.index("sort-b") < ids.index("flytesnacks")


@pytest.mark.parametrize(
    "request_",
    [
        pb.ListProjectsRequest(filters="gt(state"),
        pb.ListProjectsRequest(sort_by=list_pb2.Sort(key="color")),
        pb.ListProjectsRequest(token="not-a-token"),
    ],
)
async def test_bad_list_requests_are_invalid_argument(clients: Clients, request_: pb.ListProjectsRequest) -> None:
    with pytest.raises(ConnectError) as caught:
        await clients.projects.list_projects(request_)
    assert caught.value.code == Code.INVALID_ARGUMENT


async def test_select_cluster_keeps_the_client_on_this_endpoint(clients: Clients) -> None:
    request = cluster_pb2.SelectClusterRequest(
        operation=cluster_pb2.SelectClusterRequest.OPERATION_USE_SECRETS,
        org_id=identifier_pb2.OrgIdentifier(name=""),  # what the SDK sends from a laptop
    )
    reply = await clients.cluster.select_cluster(request)
    assert reply.cluster_endpoint == ""


async def test_select_cluster_without_a_resource_is_invalid(clients: Clients) -> None:
    with pytest.raises(ConnectError) as caught:
        await clients.cluster.select_cluster(cluster_pb2.SelectClusterRequest(operation=1))
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert "resource" in caught.value.message


async def test_user_info_is_the_local_user(clients: Clients) -> None:
    reply = await clients.identity.user_info(identity_pb2.UserInfoRequest())
    assert (reply.subject, reply.name) == ("local", "Local User")
