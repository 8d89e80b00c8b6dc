"""``flyte.rerun`` and the ``flyte.with_runcontext`` options against the real server.

Rerun starts a stored run again (same inputs, or some changed) as a new run linked to the
source; ``dry_run`` builds but starts and uploads nothing (``copy_bundle_to`` keeps the bundle);
the log, debug, cache-scope and start-time options reach the stored run spec.
"""

from __future__ import annotations

import logging
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pytest
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.task import run_pb2
from flyteidl2.workflow import run_service_pb2

import flyte
import flyte.errors
import flyte.remote

from .helpers import DOMAIN, PROJECT, Rpc, ServerProcess, load_program_against


@pytest.fixture
def wf(server: ServerProcess, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_program_against(server, project_dir, "sdk_wf.py", tmp_path / "home", monkeypatch)


async def _run_spec(rpc: Rpc, name: str) -> run_pb2.RunSpec:
    from flyteidl2.common import identifier_pb2

    response = await rpc.runs.get_run_details(
        run_service_pb2.GetRunDetailsRequest(
            run_id=identifier_pb2.RunIdentifier(project=PROJECT, domain=DOMAIN, name=name)
        )
    )
    return response.details.run_spec


async def test_rerun_starts_a_new_run_with_the_same_inputs_and_overrides(wf: ModuleType, rpc: Rpc) -> None:
    source = await flyte.with_runcontext(labels={"team": "a"}, env_vars={"MARK": "1"}).run.aio(wf.fan_out, n=3, scale=2)
    assert (await source.outputs.aio()).o0 == [0, 2, 8]

    again = await flyte.rerun.aio(source.name)
    assert again.name != source.name
    assert (await again.outputs.aio()).o0 == [0, 2, 8]
    assert await again.inputs.aio() == {"n": 3, "scale": 2}
    spec = await _run_spec(rpc, again.name)
    assert spec.relation.related_to.name == source.name
    assert spec.relation.relation_type == common_run_pb2.RELATION_TYPE_RERUN
    assert spec.labels.values["team"] == "a"  # the source run's spec is inherited
    assert {pair.key: pair.value for pair in spec.envs.values}["MARK"] == "1"

    changed = await flyte.with_runcontext(labels={"try": "2"}).rerun.aio(source.name, scale=10)
    assert await changed.inputs.aio() == {"n": 3, "scale": 10}
    assert (await changed.outputs.aio()).o0 == [0, 10, 40]
    assert (await _run_spec(rpc, changed.name)).labels.values == {"team": "a", "try": "2"}

    child = (await source.actions.aio())[1]
    alone = await flyte.rerun.aio(source.name, action_name=child.name)
    assert (await alone.outputs.aio()).o0 == (await child.inputs.aio())["x"] ** 2
    assert alone.task_name == "sdk_helpers.square"


async def test_rerun_errors_name_the_problem(wf: ModuleType) -> None:
    with pytest.raises(flyte.errors.ActionNotFoundError, match="no-such-run"):
        await flyte.rerun.aio("no-such-run")
    source = await flyte.run.aio(wf.shout, text="hi")
    await source.wait.aio(quiet=True)
    with pytest.raises(ValueError, match=r"Unknown input.*nope.*text"):
        await flyte.rerun.aio(source.name, nope=1)
    with pytest.raises(ValueError, match="recover=True cannot be combined"):
        await flyte.rerun.aio(source.name, recover=True, action_name="a1")
    with pytest.raises(ValueError, match="force_rerun_actions requires recover"):
        await flyte.rerun.aio(source.name, force_rerun_actions=["a1"])
    with pytest.raises(flyte.errors.RuntimeDataValidationError, match="text"):
        await flyte.rerun.aio(source.name, text=["not", "a", "string"])
    with pytest.raises(ValueError, match="dry_run"):
        await flyte.with_runcontext(dry_run=True).rerun.aio(source.name)
    with pytest.raises(ValueError, match="name of a run"):
        await flyte.rerun.aio("")


def test_rerun_is_remote_only() -> None:
    flyte.init()
    with pytest.raises(NotImplementedError, match="remote mode"):
        flyte.rerun("r1")


def test_dry_run_creates_no_run_and_copy_bundle_to_writes_the_bundle(wf: ModuleType, tmp_path: Path) -> None:
    before = {run.name for run in flyte.remote.Run.listall(limit=1000)}
    out = tmp_path / "bundle-out"
    dry = flyte.with_runcontext(dry_run=True, copy_bundle_to=out, name="never-created").run(wf.fan_out, n=2)
    assert dry.done() and dry.phase == "UNSPECIFIED"
    assert {run.name for run in flyte.remote.Run.listall(limit=1000)} == before
    with pytest.raises(flyte.errors.ActionNotFoundError):
        flyte.remote.Run.get("never-created")
    assert dry.task_spec.task_template.id.name == "sdk_e2e.fan_out"
    assert [named.name for named in dry.inputs.literals] == ["n", "scale"]
    bundle = Path(dry.code_bundle.tgz)
    assert bundle.parent == out and bundle.name.endswith(".tar.gz")
    with tarfile.open(bundle) as archive:
        assert "sdk_wf.py" in archive.getnames()
    with pytest.raises(RuntimeError, match="no outputs"):
        dry.outputs()
    with pytest.raises(flyte.errors.RuntimeDataValidationError):
        flyte.with_runcontext(dry_run=True).run(wf.fan_out, n="not a number")


async def test_log_debug_cache_scope_and_start_time_reach_the_run(wf: ModuleType, rpc: Rpc) -> None:
    start = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
    run = await flyte.with_runcontext(
        log_level=logging.DEBUG,
        log_format="json",
        user_log_level=logging.WARNING,
        reset_root_logger=True,
        debug=True,
        cache_lookup_scope="project-domain",
        run_start_time=start,
        service_account="builder",
    ).run.aio(wf.shout, text="x")
    await run.wait.aio(quiet=True)
    spec = await _run_spec(rpc, run.name)
    env = {pair.key: pair.value for pair in spec.envs.values}
    assert env["LOG_LEVEL"] == "10" and env["LOG_FORMAT"] == "json" and env["USER_LOG_LEVEL"] == "30"
    assert env["FLYTE_RESET_ROOT_LOGGER"] == "1" and env["_F_E_VS"] == "1"
    assert spec.cache_config.cache_lookup_scope == run_pb2.CACHE_LOOKUP_SCOPE_PROJECT_DOMAIN
    assert spec.run_start_time.ToDatetime(tzinfo=timezone.utc) == start
    assert spec.security_context.run_as.k8s_service_account == "builder"


def test_pypi_client_reruns_a_run_of_ours(wf: ModuleType, server: ServerProcess, reference_python: str) -> None:
    """PyPI flyte's own ``flyte.rerun`` against our server (GetRunDetails, GetActionData, CreateRun)."""
    import json
    import os
    import subprocess

    source = flyte.run(wf.fan_out, n=3, scale=3)
    assert source.outputs().o0 == [0, 3, 12]
    script = (
        "import json, sys, flyte\n"
        "c = json.loads(sys.argv[1])\n"
        "flyte.init(endpoint=c['endpoint'], insecure=True, project=c['project'], domain=c['domain'])\n"
        "run = flyte.rerun(c['name'], scale=5)\n"
        "run.wait(quiet=True)\n"
        "print('RESULT ' + json.dumps({'name': run.name, 'outputs': list(run.outputs())}), flush=True)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}
    command = {"endpoint": server.endpoint, "project": PROJECT, "domain": DOMAIN, "name": source.name}
    result = subprocess.run(
        [reference_python, "-c", script, json.dumps(command)], capture_output=True, text=True, timeout=180, env=env
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"{result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    parsed = json.loads(lines[-1].removeprefix("RESULT "))
    assert parsed["outputs"] == [[0, 5, 20]] and parsed["name"] != source.name
    assert flyte.remote.Run.get(parsed["name"]).inputs() == {"n": 3, "scale": 5}
