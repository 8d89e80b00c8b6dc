"""``flyte.deploy(dry_run=True)``: what would be deployed, without a control plane."""

from __future__ import annotations

from pathlib import Path

import pytest

import flyte
import flyte.errors

shared = flyte.TaskEnvironment(name="plan_shared")
main_env = flyte.TaskEnvironment(name="plan_main", depends_on=[shared])


@shared.task
async def helper(x: int) -> int:
    return x


@main_env.task(triggers=flyte.Trigger("nightly", flyte.Cron("0 2 * * *")))
async def entry(x: int) -> int:
    return await helper(x)


def test_a_dry_run_lists_environments_tasks_and_a_stable_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)
    flyte.init(project="p", domain="d", root_dir=Path(__file__).parent)
    [deployment] = flyte.deploy(main_env, dry_run=True)
    assert deployment.dry_run and [env.name for env in deployment.environments] == ["plan_main", "plan_shared"]
    assert {task.name: task.triggers for task in deployment.tasks} == {
        "plan_main.entry": ("nightly",),
        "plan_shared.helper": (),
    }
    assert flyte.deploy(main_env, dry_run=True)[0].version == deployment.version
    assert flyte.deploy(main_env, dry_run=True, version="v7")[0].version == "v7"
    assert "Would deploy 2 task(s)" in str(deployment) and deployment.to_dict()["version"] == deployment.version


def test_deploy_needs_a_project_and_distinct_environment_names() -> None:
    flyte.init()
    with pytest.raises(flyte.errors.InitializationError, match="No project is configured"):
        flyte.deploy(main_env, dry_run=True)
    flyte.init(project="p", domain="d")
    clash = flyte.TaskEnvironment(name="plan_shared")
    with pytest.raises(flyte.errors.DeploymentError, match="Two different environments are named 'plan_shared'"):
        flyte.deploy(main_env, clash, dry_run=True)
