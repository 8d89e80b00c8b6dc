"""The ``flyte.remote`` names and members of Flyte 2 against the real server (its workers run the
PyPI runtime): uploads through the DataProxy, time-filtered listings, ``ActionDetails``, the
data, report and code members of runs and actions, trigger details, ``to_json``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

import flyte
import flyte.errors
import flyte.io
import flyte.remote

from .helpers import DOMAIN, PROJECT, ServerProcess, load_program_against


@pytest.fixture
def wf(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_program_against(server, project_dir, "remote_api_wf.py", tmp_path / "home", monkeypatch)


def test_upload_file_and_dir_feed_a_run(wf: ModuleType, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("hello from upload_file")
    digest, uri = flyte.remote.upload_file(data)
    assert len(digest) == 32 and uri.endswith("/data.txt")
    run = flyte.run(wf.read_file, file=flyte.io.File(path=uri))
    assert run.outputs().o0 == "hello from upload_file"

    _, renamed = flyte.remote.upload_file(data, fname="other.txt")
    assert renamed.endswith("/other.txt")

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    dir_uri = flyte.remote.upload_dir(folder, prefix="e2e-upload-dir")
    assert dir_uri.endswith("/e2e-upload-dir")
    listed = flyte.run(wf.read_dir, folder=flyte.io.Dir(path=dir_uri)).outputs().o0
    assert listed == ["a.txt=A", "sub/b.txt=B"]

    with pytest.raises(ValueError, match="not a file"):
        flyte.remote.upload_file(folder)
    with pytest.raises(ValueError, match="not a directory"):
        flyte.remote.upload_dir(data)


def test_time_filters_on_run_and_action_listings(wf: ModuleType) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    run = flyte.run(wf.summarize, name="t", values=[1, 2])
    run.wait(quiet=True)
    recent = flyte.remote.TimeFilter(after=before)
    assert [action.name for action in flyte.remote.Action.listall(run.name, created_at=recent)] == ["a0"]
    old = flyte.remote.TimeFilter(before=before)
    assert flyte.remote.Action.listall(run.name, created_at=old) == []
    assert flyte.remote.Action.listall(run.name, updated_at=recent)[0].name == "a0"
    assert run.name in [item.name for item in flyte.remote.Run.listall(created_at=recent)]
    assert run.name not in [item.name for item in flyte.remote.Run.listall(created_at=old, limit=1000)]
    assert run.name in [item.name for item in flyte.remote.Run.listall(updated_at=recent)]
    assert run.name not in [item.name for item in flyte.remote.Run.listall(paused_actions_only=True)]
    with pytest.raises(ValueError, match="earlier than"):
        flyte.remote.TimeFilter(after=datetime.now(timezone.utc), before=before)
    assert json.loads(recent.to_json())["after"] == before.isoformat()


def test_run_and_action_members(wf: ModuleType, tmp_path: Path) -> None:
    run = flyte.run(wf.summarize, name="s", values=[1, 2, 3])
    run.wait(quiet=True)
    from flyteidl2.common import phase_pb2

    assert run.raw_phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert run.action_id.name == "a0" and run.action_id.run_name == run.name
    assert set(run.input_literals()) == {"name", "values"}
    assert run.output_literals()["o0"].HasField("scalar")
    assert run.typed_outputs({"o0": wf.Summary})["o0"] == wf.Summary(name="s", total=6)
    assert run.typed_outputs({"o0": dict}, deserializers={dict: lambda raw: raw["total"]})["o0"] == 6
    assert run.typed_inputs({"values": list[int]}) == {"values": [1, 2, 3]}
    with pytest.raises(KeyError, match="nope"):
        run.typed_outputs({"nope": int})
    assert json.loads(run.to_json())["name"] == run.name
    assert json.loads(run.inputs().to_json()) == {"name": "s", "values": [1, 2, 3]}
    assert run.outputs().to_dict() == {"o0": {"name": "s", "total": 6}}
    assert run.first_failure() is None
    assert run.get_debug_url() is None

    bundle = run.code_bundle()
    assert bundle is not None and (bundle.tgz or "").endswith(".tar.gz")
    source = run.download_code(tmp_path / "code")
    assert (source / "remote_api_wf.py").read_text() == (Path.cwd() / "remote_api_wf.py").read_text()

    details = run.details()
    assert isinstance(details, flyte.remote.RunDetails) and details.done()
    assert details.typed_outputs({"o0": wf.Summary})["o0"].total == 6
    assert flyte.remote.RunDetails.get(run.name).name == run.name

    action_details = flyte.remote.Action.get(run.name, "a0").details()
    assert isinstance(action_details, flyte.remote.ActionDetails)
    assert action_details.runtime > timedelta(0) and action_details.error_message is None
    assert action_details.logs_available() in (True, False) and not action_details.is_running
    assert json.loads(action_details.to_json())["phase"] == "SUCCEEDED"
    assert action_details.code_bundle == bundle
    phases = [item.phase.name for item in action_details.get_phase_transitions()]
    assert "RUNNING" in phases and action_details.running_time > timedelta(0)
    assert sum(action_details.phase_durations.values(), timedelta(0)) <= action_details.runtime + timedelta(seconds=5)


def test_report_and_first_failure(wf: ModuleType) -> None:
    run = flyte.run(wf.with_report, title="Quarterly")
    run.wait(quiet=True)
    assert "<h1>Quarterly</h1>" in run.get_report()
    plain = flyte.run(wf.summarize, name="x", values=[])
    plain.wait(quiet=True)
    with pytest.raises(flyte.errors.NotFoundError):
        plain.get_report()

    failing = flyte.run(wf.parent_of_broken, x=7)
    failing.wait(quiet=True)
    first = failing.first_failure()
    assert isinstance(first, flyte.remote.ActionDetails)
    assert first.name != "a0" and first.task_name == "remote_api.broken"
    assert "broken 7" in (first.error_message or "")
    assert first.error_info is not None and first.error_info.code == "ValueError" and first.abort_info is None
    assert first.parent_name == "a0"


def test_trigger_details_and_update(wf: ModuleType) -> None:
    [deployment] = flyte.deploy(wf.env)
    task = flyte.remote.Task.get("remote_api.summarize", auto_version="latest")
    trigger = flyte.Trigger("every-day", flyte.Cron("0 3 * * *"), inputs={"name": "d", "values": [1]})
    created = flyte.remote.Trigger.create(trigger, task_name=task.name)
    assert deployment.version and created.name == "every-day"
    details = flyte.remote.Trigger.get(name="every-day", task_name=task.name)
    assert isinstance(details, flyte.remote.TriggerDetails) and isinstance(details.trigger, flyte.remote.Trigger)
    assert details.automation_spec and "0 3 * * *" in details.automation_spec
    assert [t.name for t in flyte.remote.Trigger.listall(task.name, task_version="no-such-version")] == []
    version = task.fetch().version
    assert "every-day" in [t.name for t in flyte.remote.Trigger.listall(task.name, task_version=version)]
    flyte.remote.Trigger.update("every-day", task.name, active=False)
    assert details.get_details().is_active is False
    flyte.remote.Trigger.update("every-day", task.name, active=True)
    assert flyte.remote.Trigger.get(name="every-day", task_name=task.name).is_active is True
    # Fired now: the trigger's inputs, or some of them replaced by name.
    assert flyte.run(details).outputs().o0 == {"name": "d", "total": 1}  # deployed: no Python class at hand
    assert flyte.run(details, values=[5, 5]).outputs().o0 == {"name": "d", "total": 10}
    with pytest.raises(ValueError, match="by name"):
        flyte.run(details, "x")
    with pytest.raises(ValueError, match="Unknown input"):
        flyte.run(details, nope=1)
    flyte.remote.Trigger.delete("every-day", task.name)


def test_remote_surface_matches_the_reference_names() -> None:
    import flyte.remote as remote

    expected = {
        "ActionDetails",
        "TimeFilter",
        "TriggerDetails",
        "SecretTypes",
        "auth_metadata",
        "upload_file",
        "upload_dir",
    }
    assert expected <= set(remote.__all__)
    for name in expected:
        assert getattr(remote, name) is not None


def test_deployed_task_details_and_override(wf: ModuleType) -> None:
    flyte.deploy(wf.env)
    details = flyte.remote.TaskDetails.fetch("remote_api.env_value", auto_version="latest")
    assert details.required_args == ("key",) and details.default_input_args == ("fallback",)
    assert details.cache.behavior != "disable" and details.retries == 1 and not details.overridden
    assert details.secrets == [] and isinstance(details.resources, tuple)

    changed = details.override(env_vars={"OVERRIDE_MARK": "yes"}, retries=3, cache=False, queue="q1")
    assert changed.overridden and changed.retries == 3 and changed.queue == "q1"
    assert changed.cache.behavior == "disable"
    run = flyte.run(changed, key="OVERRIDE_MARK")
    assert run.outputs().o0 == "yes"
    assert run.details().queue == "q1"
    # The deployed task is unchanged: a plain run does not see the variable.
    plain = flyte.remote.Task.get("remote_api.env_value", auto_version="latest")
    assert flyte.run(plain, key="OVERRIDE_MARK").outputs().o0 == "none"
    assert flyte.remote.TaskDetails.fetch("remote_api.env_value", version=details.version).retries == 1

    with pytest.raises(flyte.errors.RemoteTaskUsageError, match="bogus"):
        details.override(bogus=1)


def test_conditions_and_settings_on_this_control_plane(wf: ModuleType) -> None:
    run = flyte.run(wf.summarize, name="c", values=[1])
    run.wait(quiet=True)
    # This control plane runs no condition actions: a run has none, and a lookup finds nothing.
    assert flyte.remote.Condition.listall(run.name) == []
    assert flyte.remote.Condition.get("approve", run_name=run.name) is None
    with pytest.raises(flyte.errors.ActionNotFoundError):
        flyte.remote.Condition.listall("no-such-run")

    assert "run.default_queue" in flyte.remote.Settings.available_keys()
    assert flyte.remote.Settings.parse_yaml("run.default_queue: gpu\n") == {"run.default_queue": "gpu"}
    # No settings service here: a one-line error, not a traceback from the transport.
    with pytest.raises(flyte.errors.ControlPlaneError) as raised:
        flyte.remote.Settings.get_settings_for_edit(domain=DOMAIN)
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="domain"):
        flyte.remote.Settings.get_settings_for_edit(project=PROJECT)

    user = flyte.remote.User.get()
    assert user.subject() == user.subject and user.name() == user.name  # Flyte 2 calls them
    assert json.loads(user.to_json())["subject"] == user.subject


def test_log_options(wf: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    run = flyte.run(wf.logs_at_levels, text="printed")
    run.wait(quiet=True)
    plain = run.get_logs()
    stamped = run.get_logs(show_ts=True)
    assert len(plain) == len(stamped) > 0
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line) for line in stamped)
    assert [line.split(" ", 1)[1] for line in stamped] == plain
    own = run.get_logs(filter_system=True)  # without the lines Flyte itself wrote
    assert "user-print printed" in own and set(own) <= set(plain)
    run.show_logs(max_lines=1)
    assert capsys.readouterr().out.splitlines() == plain[-1:]
    snapshots = list(run.watch(cache_data_on_done=True))
    assert snapshots[-1].phase.name == "SUCCEEDED"


def test_secrets_take_flyte_2_positional_arguments(wf: ModuleType) -> None:
    import uuid

    name = f"api-{uuid.uuid4().hex[:8]}"
    flyte.remote.Secret.create(name, "value", "regular")
    assert flyte.remote.Secret.get(name).name == name
    with pytest.raises(ValueError, match="cluster pools"):
        flyte.remote.Secret.get(name, cluster_pool="gpu-pool")
    flyte.remote.Secret.delete(name)
    assert name not in [secret.name for secret in flyte.remote.Secret.listall(1000)]


def test_artifacts_on_a_control_plane_without_an_artifact_service(wf: ModuleType) -> None:
    schema = flyte.remote.PartitionSchema(time_key="ds", granularity="DAY", keys=("region",))
    assert json.loads(schema.to_json()) == {
        "time_key": "ds",
        "granularity": "DAY",
        "keys": ["region"],
        "declared": False,
    }
    for call in (
        lambda: flyte.remote.Artifact.get("model"),
        lambda: flyte.remote.Artifact.listall("model"),
        lambda: flyte.remote.Artifact.create(3, name="model"),
        lambda: flyte.remote.Artifact.get_schema("model"),
    ):
        with pytest.raises(flyte.errors.ControlPlaneError) as raised:
            call()
        assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="needs a name"):
        flyte.remote.Artifact.create(3)


def test_pypi_upload_file_and_dir_against_our_dataproxy(
    wf: ModuleType, server: ServerProcess, reference_python: str, tmp_path: Path
) -> None:
    """PyPI flyte's own upload_file / upload_dir against our server; our client reads the result."""
    import os
    import subprocess

    data = tmp_path / "pypi.txt"
    data.write_text("uploaded by PyPI flyte")
    folder = tmp_path / "pypi-folder"
    folder.mkdir()
    (folder / "one.txt").write_text("1")
    script = (
        "import json, sys, pathlib, flyte, flyte.remote\n"
        "c = json.loads(sys.argv[1])\n"
        "flyte.init(endpoint=c['endpoint'], insecure=True, project=c['project'], domain=c['domain'])\n"
        "_, uri = flyte.remote.upload_file(pathlib.Path(c['file']))\n"
        "folder = flyte.remote.upload_dir(pathlib.Path(c['dir']))\n"
        "print('RESULT ' + json.dumps({'uri': uri, 'folder': folder}), flush=True)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    env["HOME"] = str(tmp_path / "pypi-home")
    command = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, "file": str(data), "dir": str(folder)}
    result = subprocess.run(
        [reference_python, "-c", script, json.dumps(command)], capture_output=True, text=True, timeout=180, env=env
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"{result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    parsed = json.loads(lines[-1].removeprefix("RESULT "))
    assert flyte.run(wf.read_file, file=flyte.io.File(path=parsed["uri"])).outputs().o0 == "uploaded by PyPI flyte"
    assert flyte.run(wf.read_dir, folder=flyte.io.Dir(path=parsed["folder"])).outputs().o0 == ["one.txt=1"]
