"""Our SDK in remote mode against the real server (the session one: its workers run the PyPI
``a0``, so our code bundles, specs and inputs must work with Flyte 2's own runtime).

Runs, their handles (wait, watch, outputs, inputs, logs, abort, details, errors), deployments
and deployed tasks, triggers, projects, secrets, the user, the code-bundle cache, and the
errors a user sees when something is missing or unreachable.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import ModuleType

import pytest

import flyte
import flyte.errors
import flyte.remote

from .helpers import DOMAIN, PROJECT, ServerProcess, free_port, load_program_against


@pytest.fixture
def wf(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The workflows module, with flyte.init pointing at the session server (fresh HOME: no bundle cache)."""
    return load_program_against(server, project_dir, "sdk_wf.py", tmp_path / "home", monkeypatch)


def test_run_wait_outputs_inputs_details_and_listing(wf: ModuleType) -> None:
    run = flyte.run(wf.fan_out, n=4, scale=2)
    assert isinstance(run, flyte.Run) and isinstance(run, flyte.remote.Run)
    assert run.name in run.url and run.project == PROJECT
    run.wait()
    assert run.phase == "SUCCEEDED" and run.done()
    assert run.outputs().o0 == [0, 2, 8, 18]
    assert run.inputs() == {"n": 4, "scale": 2}

    details = run.details()
    assert details.action.task_name == "sdk_e2e.fan_out" and details.action.attempts == 1
    assert [attempt.phase.name for attempt in details.action.attempt_history] == ["SUCCEEDED"]
    actions = run.actions()
    assert actions[0].name == "a0" and len(actions) == 5
    assert {action.task_name for action in actions[1:]} == {"sdk_helpers.square"}
    child = flyte.remote.Action.get(run.name, actions[1].name)
    assert child.parent == "a0" and child.inputs()["x"] in range(4)

    again = flyte.remote.Run.get(run.name)
    assert again.phase == "SUCCEEDED" and again.outputs().o0 == [0, 2, 8, 18]
    listed = flyte.remote.Run.listall(task_name="sdk_e2e.fan_out", in_phase=("succeeded",), limit=20)
    assert run.name in [item.name for item in listed]
    json.dumps(run.to_dict()), json.dumps(details.to_dict())  # plain values only

    two = flyte.run(wf.two_outputs, text="abc")
    assert tuple(two.outputs()) == ("ABC", 3)
    phases = [snapshot.phase.name for snapshot in flyte.remote.Run.get(two.name).watch()]
    assert phases[-1] == "SUCCEEDED"


async def test_the_async_forms(wf: ModuleType) -> None:
    run = await flyte.run.aio(wf.two_outputs, text="xy")
    await run.wait.aio(quiet=True)
    assert tuple(await run.outputs.aio()) == ("XY", 2)
    assert (await flyte.remote.Run.get.aio(run.name)).phase == "SUCCEEDED"
    snapshots = [snapshot async for snapshot in run.watch.aio()]
    assert snapshots[-1].phase.name == "SUCCEEDED"


def test_a_failed_run_raises_the_task_error(wf: ModuleType) -> None:
    run = flyte.run(wf.fails, x=3)
    run.wait(quiet=True)
    assert run.phase == "FAILED"
    with pytest.raises(flyte.errors.RuntimeUserError) as raised:
        run.raise_for_status()
    assert raised.value.code == "ValueError" and "bad input 3" in str(raised.value)
    with pytest.raises(flyte.errors.RuntimeUserError):
        run.outputs()
    root = flyte.remote.Action.get(run.name)
    assert root.error is not None and root.error.code == "ValueError" and root.error.kind == "user"
    assert run.name in [item.name for item in flyte.remote.Run.listall(in_phase=("failed",), limit=50)]


def test_abort_logs_and_named_runs(wf: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    sleeper = flyte.run(wf.sleeper, seconds=60.0)
    sleeper.wait(quiet=True, wait_for="running")
    sleeper.abort()
    sleeper.wait(quiet=True)
    assert sleeper.phase == "ABORTED"
    with pytest.raises(flyte.errors.ActionAbortedError):
        sleeper.raise_for_status()

    name = f"named-{uuid.uuid4().hex[:8]}"
    runner = flyte.with_runcontext(name=name, labels={"team": "e2e"}, env_vars={"E2E_MARK": "1"})
    shout = runner.run(wf.shout, text="hello logs")
    assert shout.name == name
    shout.wait(quiet=True)
    assert any("SHOUT-LOG hello logs" in line for line in shout.get_logs())
    shout.show_logs()
    assert "SHOUT-LOG hello logs" in capsys.readouterr().out
    details = shout.details()
    assert details.labels == {"team": "e2e"} and details.env_vars["E2E_MARK"] == "1"
    with pytest.raises(flyte.errors.RunAlreadyExistsError):
        runner.run(wf.shout, text="again")


def test_deploy_run_deployed_tasks_and_manage_triggers(wf: ModuleType) -> None:
    [first] = flyte.deploy(wf.env)
    assert flyte.deploy(wf.env)[0].version == first.version, "the same code deploys to the same version"
    # Other suites deploy these tasks to the session server too: a version of its own makes this
    # deployment the latest whatever ran before.
    [deployment] = flyte.deploy(wf.env, version=f"e2e-{uuid.uuid4().hex[:8]}")
    assert {env.name for env in deployment.environments} == {"sdk_e2e", "sdk_helpers"}
    assert {task.name for task in deployment.tasks} >= {"sdk_e2e.fan_out", "sdk_helpers.square", "sdk_e2e.scheduled"}
    [dry] = flyte.deploy(wf.env, dry_run=True, version="dry")
    assert dry.dry_run and dry.version == "dry"

    latest = flyte.remote.Task.get("sdk_e2e.fan_out", auto_version="latest")
    details = latest.fetch()
    assert details.version == deployment.version and details.inputs == {"n": "int", "scale": "int"}
    assert details.defaults == {"scale": 1} and details.required_inputs == ("n",)
    assert details.environment == "sdk_e2e" and details.description.startswith("Square 0..n-1")
    run = flyte.run(latest, n=3)
    assert run.outputs().o0 == [0, 1, 4]
    listed = flyte.remote.Task.listall(by_task_env="sdk_e2e")
    assert {"sdk_e2e.fan_out", "sdk_e2e.scheduled"} <= {task.name for task in listed}

    [hourly] = flyte.remote.Trigger.listall(task_name="sdk_e2e.scheduled")
    assert (hourly.name, hourly.active) == ("hourly", False)
    assert hourly.schedule is not None and hourly.schedule.startswith("cron 0 * * * *")
    flyte.remote.Trigger.activate("hourly", "sdk_e2e.scheduled")
    assert flyte.remote.Trigger.get("hourly", "sdk_e2e.scheduled").active
    flyte.remote.Trigger.deactivate("hourly", "sdk_e2e.scheduled")
    created = flyte.remote.Trigger.create(
        flyte.Trigger("every-five", flyte.FixedRate(5), inputs={"n": 1}, auto_activate=False), "sdk_e2e.scheduled"
    )
    assert created.schedule == "every 5 minute(s)" and not created.active
    flyte.remote.Trigger.delete("every-five", "sdk_e2e.scheduled")
    with pytest.raises(flyte.errors.NotFoundError):
        flyte.remote.Trigger.get("every-five", "sdk_e2e.scheduled")


def test_projects_secrets_and_the_user(wf: ModuleType) -> None:
    assert "flytesnacks" in [project.id for project in flyte.remote.Project.listall()]
    assert "development" in flyte.remote.Project.get("flytesnacks").domains
    name = f"p{uuid.uuid4().hex[:8]}"
    assert flyte.remote.Project.create(name, description="made by e2e").description == "made by e2e"

    secret = f"s{uuid.uuid4().hex[:8]}"
    flyte.remote.Secret.create(secret, "value-1")
    assert flyte.remote.Secret.get(secret).name == secret
    assert secret in [item.name for item in flyte.remote.Secret.listall()]
    flyte.remote.Secret.delete(secret)
    with pytest.raises(flyte.errors.NotFoundError):
        flyte.remote.Secret.get(secret)
    assert flyte.remote.User.get().subject


def test_the_code_bundle_is_uploaded_once_and_again_when_the_server_lost_it(
    wf: ModuleType, server: ServerProcess
) -> None:
    first = flyte.run(wf.square, x=2)
    assert first.outputs().o0 == 4
    # The bundle this run used (other tests of the session upload bundles of their own).
    uri = first.code_bundle().tgz or ""
    [newest] = list((server.data_dir / "blobs" / "uploads").rglob(uri.rsplit("/", 1)[-1]))
    stamp = newest.stat().st_mtime_ns
    assert flyte.run(wf.square, x=3).outputs().o0 == 9
    assert newest.stat().st_mtime_ns == stamp, "a known bundle is not uploaded again"
    newest.unlink()
    assert flyte.run(wf.square, x=4).outputs().o0 == 16, "a bundle the server lost is uploaded again"
    assert newest.exists()


def test_missing_things_and_an_unreachable_server(wf: ModuleType) -> None:
    with pytest.raises(flyte.errors.ActionNotFoundError, match=r"Run 'no-such-run' in flytesnacks/development"):
        flyte.remote.Run.get("no-such-run")
    with pytest.raises(flyte.errors.RemoteTaskNotFoundError, match=r"No deployed task named 'sdk_e2e\.nope'"):
        flyte.remote.Task.get("sdk_e2e.nope", auto_version="latest").fetch()

    port = free_port()
    flyte.init(endpoint=f"127.0.0.1:{port}", insecure=True, project=PROJECT, domain=DOMAIN)
    with pytest.raises(flyte.errors.ControlPlaneError) as raised:
        flyte.run(wf.square, x=1)
    message = str(raised.value)
    assert f"Cannot reach the Flyte control plane at http://127.0.0.1:{port}" in message
    assert "\n" not in message and raised.value.code == "UNAVAILABLE"
