"""Request validation: protovalidate rules and malformed bodies become INVALID_ARGUMENT, one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from flyteidl2.cluster import payload_pb2 as cluster_pb2
from flyteidl2.common import identifier_pb2, run_pb2
from flyteidl2.secret import definition_pb2, payload_pb2
from flyteidl2.task import task_definition_pb2
from flyteidl2.trigger import trigger_definition_pb2, trigger_service_pb2
from flyteidl2.workflow import run_service_pb2

from flyte_server.validation import RELAXED_RULES, validation_error

if TYPE_CHECKING:
    from conftest import RunningServer


def test_a_valid_request_passes() -> None:
    request = payload_pb2.CreateSecretRequest(
        id=definition_pb2.SecretIdentifier(name="token"), secret_spec=definition_pb2.SecretSpec(string_value="v")
    )
    assert validation_error(request) is None


def test_violations_are_named_by_field_path_on_one_line() -> None:
    problem = validation_error(trigger_service_pb2.UpdateTriggersRequest(names=[identifier_pb2.TriggerName()]))
    assert problem is not None and "\n" not in problem
    assert problem.startswith("invalid UpdateTriggersRequest: names[0].project: ")
    assert "(and 1 more)" in problem  # project, domain, name, task_name: three listed, one counted


def test_an_empty_org_is_accepted_as_the_sdk_sends_it() -> None:
    by_org = cluster_pb2.SelectClusterRequest(operation=8, org_id=identifier_pb2.OrgIdentifier(name=""))
    by_project = cluster_pb2.SelectClusterRequest(
        operation=1, project_id=identifier_pb2.ProjectIdentifier(organization="", name="p", domain="d")
    )
    assert validation_error(by_org) is None
    assert validation_error(by_project) is None
    assert validation_error(cluster_pb2.SelectClusterRequest(operation=1)) is not None


def test_an_empty_inputs_hash_is_accepted_as_both_sdks_send_it_for_a_task_without_inputs() -> None:
    def create(offloaded: run_pb2.OffloadedInputData) -> run_service_pb2.CreateRunRequest:
        return run_service_pb2.CreateRunRequest(
            project_id=identifier_pb2.ProjectIdentifier(name="p", domain="d"),
            task_id=task_definition_pb2.TaskIdentifier(project="p", domain="d", name="env.main", version="v1"),
            offloaded_input_data=offloaded,
        )

    assert validation_error(create(run_pb2.OffloadedInputData(uri="s3://b/inputs", inputs_hash=""))) is None
    # The relaxation is that one rule of that one field: the location of the inputs is still required.
    assert validation_error(create(run_pb2.OffloadedInputData(uri="", inputs_hash=""))) == (
        "invalid CreateRunRequest: offloaded_input_data.uri: must be at least 1 characters"
    )
    trigger = trigger_service_pb2.DeployTriggerRequest(
        name=identifier_pb2.TriggerName(project="p", domain="d", name="t", task_name="env.main"),
        spec=trigger_definition_pb2.TriggerSpec(
            task_version="v1", offloaded_input_data=run_pb2.OffloadedInputData(uri="s3://b/i")
        ),
    )
    assert validation_error(trigger) is None
    assert RELAXED_RULES == {"flyteidl2.common.OffloadedInputData.inputs_hash": frozenset({"string.min_len"})}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/proto", b"\xff\xff\xff"),  # not a protobuf message
        ("application/json", b'{"id": {"name": 5}}'),  # a number where a string belongs
        ("application/json", b'{"id": {"name": "bad name!"}}'),  # breaks the name pattern
        ("application/json", b"{}"),  # no id at all
    ],
)
def test_malformed_requests_are_invalid_argument(admin_server: RunningServer, content_type: str, body: bytes) -> None:
    response = httpx.post(
        f"{admin_server.url}/flyteidl2.secret.SecretService/GetSecret",
        content=body,
        headers={"content-type": content_type, "connect-protocol-version": "1"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_argument"


def test_unknown_paths_are_404_and_healthz_is_200(admin_server: RunningServer) -> None:
    assert httpx.post(f"{admin_server.url}/flyteidl2.nope.NopeService/Nope").status_code == 404
    assert httpx.get(f"{admin_server.url}/healthz").status_code == 200
