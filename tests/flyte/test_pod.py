from __future__ import annotations

from types import SimpleNamespace

import pytest

from flyte._pod import PodTemplate


def test_defaults_and_fields_are_kept_as_given() -> None:
    spec = SimpleNamespace(containers=[SimpleNamespace(name="main")])
    template = PodTemplate(pod_spec=spec, labels={"team": "ml"}, annotations={"a": "b"})
    assert template.pod_spec is spec
    assert template.primary_container_name == "primary"
    assert template.labels == {"team": "ml"}
    assert template.annotations == {"a": "b"}


def test_from_spec_takes_the_first_container_name() -> None:
    spec = SimpleNamespace(containers=[SimpleNamespace(name="trainer"), SimpleNamespace(name="sidecar")])
    assert PodTemplate.from_spec(spec).primary_container_name == "trainer"
    assert PodTemplate.from_spec({"containers": [{"name": "job"}]}).primary_container_name == "job"
    assert PodTemplate.from_spec(SimpleNamespace(containers=[])).primary_container_name == "primary"
    assert PodTemplate.from_spec(spec, primary_container_name="sidecar").primary_container_name == "sidecar"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"primary_container_name": ""}, "primary_container_name must be a container name"),
        ({"primary_container_name": "Main"}, "primary_container_name must be a container name"),
        ({"labels": {"a": 1}}, "PodTemplate.labels must map strings to strings"),
        ({"annotations": ["a"]}, "PodTemplate.annotations must be a dict of strings"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PodTemplate(**kwargs)  # type: ignore[arg-type]
