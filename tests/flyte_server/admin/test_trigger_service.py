"""TriggerService over real Connect RPCs: deploy, get, list, (de)activate, delete, and bad requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.task import common_pb2, task_definition_pb2
from flyteidl2.trigger import trigger_definition_pb2 as definition
from flyteidl2.trigger import trigger_service_pb2 as pb
from sqlalchemy import func, select

from flyte_server.store.db import Database
from flyte_server.store.models.triggers import TriggerRow

if TYPE_CHECKING:
    from conftest import Clients


def _name(
    name: str, task: str = "wf.main", project: str = "flytesnacks", domain: str = "development"
) -> identifier_pb2.TriggerName:
    return identifier_pb2.TriggerName(org="", project=project, domain=domain, name=name, task_name=task)


def _cron(expression: str) -> common_pb2.TriggerAutomationSpec:
    schedule = common_pb2.Schedule(cron=common_pb2.Cron(expression=expression, timezone="UTC"))
    return common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=schedule)


def _deploy_request(name: identifier_pb2.TriggerName, expression: str = "*/5 * * * *") -> pb.DeployTriggerRequest:
    return pb.DeployTriggerRequest(
        name=name,
        spec=definition.TriggerSpec(active=True, task_version="v1", description="every five minutes"),
        automation_spec=_cron(expression),
    )


async def _count(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(TriggerRow)) or 0)


async def test_deploy_get_list_toggle_delete(clients: Clients) -> None:
    name = _name("five-minutes")
    deployed = (await clients.triggers.deploy_trigger(_deploy_request(name))).trigger
    assert deployed.id.name.name == "five-minutes" and deployed.id.revision == 1
    assert deployed.spec.active and deployed.automation_spec.schedule.cron.expression == "*/5 * * * *"
    assert deployed.metadata.deployed_by.user.id.subject == "local"

    got = (await clients.triggers.get_trigger_details(pb.GetTriggerDetailsRequest(name=name))).trigger
    assert got.spec.task_version == "v1" and got.status.HasField("deployed_at")

    listed = await clients.triggers.list_triggers(
        pb.ListTriggersRequest(project_id=identifier_pb2.ProjectIdentifier(name="flytesnacks", domain="development"))
    )
    assert "five-minutes" in [trigger.id.name.name for trigger in listed.triggers]
    by_task = await clients.triggers.list_triggers(
        pb.ListTriggersRequest(
            task_name=task_definition_pb2.TaskName(project="flytesnacks", domain="development", name="wf.main")
        )
    )
    assert [trigger.id.name.name for trigger in by_task.triggers if trigger.id.name.name == "five-minutes"]

    await clients.triggers.update_triggers(pb.UpdateTriggersRequest(names=[name], active=False))
    got = (await clients.triggers.get_trigger_details(pb.GetTriggerDetailsRequest(name=name))).trigger
    assert not got.spec.active and got.id.revision == 2

    await clients.triggers.delete_triggers(pb.DeleteTriggersRequest(names=[name]))
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.get_trigger_details(pb.GetTriggerDetailsRequest(name=name))
    assert caught.value.code == Code.NOT_FOUND


async def test_list_pages(clients: Clients) -> None:
    for index in range(3):
        await clients.triggers.deploy_trigger(_deploy_request(_name(f"paged-{index}", task="wf.paged")))
    scope = task_definition_pb2.TaskName(project="flytesnacks", domain="development", name="wf.paged")
    names: list[str] = []
    token = ""
    while True:
        reply = await clients.triggers.list_triggers(
            pb.ListTriggersRequest(task_name=scope, request=list_pb2.ListRequest(limit=2, token=token))
        )
        names += [trigger.id.name.name for trigger in reply.triggers]
        token = reply.token
        if not token:
            break
    assert names == ["paged-0", "paged-1", "paged-2"]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (_deploy_request(_name("bad-cron"), expression="61 * * * *"), Code.INVALID_ARGUMENT),
        (_deploy_request(_name("x", project="no-such-project")), Code.NOT_FOUND),
        (_deploy_request(_name("x", domain="qa")), Code.INVALID_ARGUMENT),
        (_deploy_request(_name("", task="")), Code.INVALID_ARGUMENT),
        (pb.DeployTriggerRequest(name=_name("no-spec")), Code.INVALID_ARGUMENT),
        (
            pb.DeployTriggerRequest(
                name=_name("no-version"), spec=definition.TriggerSpec(active=True), automation_spec=_cron("* * * * *")
            ),
            Code.INVALID_ARGUMENT,
        ),
    ],
)
async def test_bad_deploys_store_nothing(
    clients: Clients, server_database: Database, request_: pb.DeployTriggerRequest, code: Code
) -> None:
    before = await _count(server_database)
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.deploy_trigger(request_)
    assert caught.value.code == code
    assert "\n" not in caught.value.message
    assert await _count(server_database) == before


async def test_toggling_or_deleting_unknown_triggers_changes_nothing(clients: Clients) -> None:
    known = _name("known")
    await clients.triggers.deploy_trigger(_deploy_request(known))
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.update_triggers(pb.UpdateTriggersRequest(names=[known, _name("ghost")], active=False))
    assert caught.value.code == Code.NOT_FOUND and "ghost" in caught.value.message
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.delete_triggers(pb.DeleteTriggersRequest(names=[known, _name("ghost")]))
    assert caught.value.code == Code.NOT_FOUND
    got = (await clients.triggers.get_trigger_details(pb.GetTriggerDetailsRequest(name=known))).trigger
    assert got.spec.active
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.update_triggers(pb.UpdateTriggersRequest(active=True))
    assert caught.value.code == Code.INVALID_ARGUMENT


async def test_list_of_an_unknown_project_is_not_found(clients: Clients) -> None:
    with pytest.raises(ConnectError) as caught:
        await clients.triggers.list_triggers(
            pb.ListTriggersRequest(project_id=identifier_pb2.ProjectIdentifier(name="nope", domain="development"))
        )
    assert caught.value.code == Code.NOT_FOUND
