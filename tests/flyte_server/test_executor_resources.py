"""A task template's resources become an executor's limits (Kubernetes quantities, limits over requests)."""

from __future__ import annotations

import pytest
from flyteidl2.core import tasks_pb2

from flyte_server.executors import Resources
from flyte_server.executors.resources import parse_quantity, resources_of

R = tasks_pb2.Resources


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", 0.5), ("2", 2), ("1.5", 1.5), ("300Mi", 300 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("2e3", 2000)],
)
def test_quantities(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "lots", "1Xi", "-1", "1 2"])
def test_a_bad_quantity_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a resource quantity"):
        parse_quantity(text)


def _template(requests: dict[int, str], limits: dict[int, str]) -> tasks_pb2.TaskTemplate:
    resources = R(
        requests=[R.ResourceEntry(name=name, value=value) for name, value in requests.items()],
        limits=[R.ResourceEntry(name=name, value=value) for name, value in limits.items()],
    )
    return tasks_pb2.TaskTemplate(container=tasks_pb2.Container(image="x", resources=resources))


def test_limits_win_over_requests_and_a_request_alone_is_the_limit() -> None:
    template = _template({R.CPU: "1", R.MEMORY: "300Mi", R.GPU: "1"}, {R.CPU: "2"})
    assert resources_of(template) == Resources(cpu=2.0, memory=300 * 2**20, gpu=1)
    assert resources_of(tasks_pb2.TaskTemplate()) == Resources(), "no container: nothing asked for"
