"""Behaviour of the smaller Flyte 2 names: syncify, git, report timelines and .aio, interactive
contexts, plugin configs, task hooks, pod templates, images, GPU strings, artifact triggers and
run_python_script."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import flyte
import flyte.errors
import flyte.report
from flyte.git import GitStatus, config_from_root
from flyte.models import SerializationContext
from flyte.syncify import Syncify, syncify

env = flyte.TaskEnvironment(name="surface-features")


# --- syncify -------------------------------------------------------------------------------


def test_syncify_functions_generators_and_methods_from_sync_and_async_code() -> None:
    local = Syncify("surface-loop")

    @local
    async def loop_thread() -> str:
        return threading.current_thread().name

    @syncify
    async def count(n: int) -> Any:
        for i in range(n):
            yield i

    class Client:
        def __init__(self) -> None:
            self.calls = 0

        @syncify
        async def ping(self, x: int) -> int:
            self.calls += 1
            return x * 2

        @syncify
        @classmethod
        async def named(cls, suffix: str) -> str:
            return cls.__name__ + suffix

    client = Client()
    assert loop_thread() == "surface-loop" and loop_thread() == "surface-loop"
    assert list(count(3)) == [0, 1, 2]
    assert client.ping(2) == 4 and client.calls == 1
    assert Client.named("!") == "Client!"

    async def from_async() -> tuple[int, list[int], str]:
        return await client.ping.aio(5), [i async for i in count.aio(2)], await Client.named.aio("?")

    assert asyncio.run(from_async()) == (10, [0, 1], "Client?")
    with pytest.raises(TypeError, match="async function"):
        syncify(lambda: 1)


# --- git -----------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_status_and_config_from_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".flyte").mkdir(parents=True)
    (repo / ".flyte" / "config.yaml").write_text("task:\n  project: from-root\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "train.py").write_text("print(1)\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "add", ".")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "init")
    _git(repo, "remote", "add", "origin", "git@github.com:acme/ml.git")
    monkeypatch.chdir(repo / "pkg")

    status = GitStatus.from_current_repo()
    assert status.is_valid and status.is_tree_clean and len(status.commit_sha) == 40
    assert status.remote_url == "https://github.com/acme/ml"
    link = status.build_url(repo / "pkg" / "train.py", 1)
    assert link == f"https://github.com/acme/ml/blob/{status.commit_sha}/pkg/train.py#L1"
    config = config_from_root()
    assert config is not None and config.task.project == "from-root"
    (repo / "pkg" / "dirty.py").write_text("")
    assert not GitStatus.from_current_repo().is_tree_clean

    monkeypatch.chdir(tmp_path)
    assert not GitStatus.from_current_repo().is_valid and config_from_root() is None


# --- report --------------------------------------------------------------------------------


@env.task(report=True)
async def timeline_task() -> str:
    timeline = flyte.report.Timeline("steps")
    timeline.heading("Training <run>")
    timeline.row(icon="✓", label="epoch 1", meta="12 s", detail=flyte.report.abbreviate("x" * 500))
    timeline.row(label="epoch 2", error=ValueError("diverged"))
    await flyte.report.log.aio("<p>async log</p>")
    await flyte.report.flush.aio()
    return flyte.ctx().output_path


def test_timeline_rows_and_async_logging_reach_the_report(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    output_path = flyte.run(timeline_task).outputs().o0
    html = (Path(output_path.removeprefix("file://")) / "report.html").read_text()
    assert "Training &lt;run&gt;" in html and "epoch 1" in html and "diverged" in html
    assert "<details" in html and "(+200)" in html and "async log" in html
    assert flyte.report.duration_ms("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.25Z") == "250 ms"
    flyte.report.Timeline().row(label="outside a task goes nowhere")


# --- interactive contexts and plugin configs -----------------------------------------------


@env.task
async def context_snapshot() -> str:
    from flyte._interactive import write_interactive_ctx

    return str(write_interactive_ctx(flyte.ctx(), Path(flyte.ctx().run_base_dir) / "ctx.json"))


def test_a_task_context_written_by_a_run_loads_in_a_repl(tmp_path: Path) -> None:
    from flyte._context import set_interactive_context

    flyte.init(local_cache_dir=tmp_path / "cache")
    path = flyte.run(context_snapshot).outputs().o0
    try:
        loaded = flyte.load_interactive_ctx(path)
        assert flyte.ctx() is loaded and loaded.interactive_mode and loaded.action.name == "a0"
        assert loaded.task_name.endswith("context_snapshot")
    finally:
        set_interactive_context(None)
    assert not flyte.ctx()
    with pytest.raises(FileNotFoundError):
        flyte.load_interactive_ctx(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text(json.dumps({"action": {}}))
    with pytest.raises(ValueError, match="'name'"):
        flyte.load_interactive_ctx(tmp_path / "bad.json")


def test_plugin_configs_load_with_nested_dataclasses(tmp_path: Path) -> None:
    from tests.flyte.surface_programs.plugin_configs import ClusterConfig, HeadNode, WorkerGroup

    path = tmp_path / "ray.yaml"
    path.write_text(
        "plugin: tests.flyte.surface_programs.plugin_configs.ClusterConfig\n"
        "config:\n"
        "  worker_node_config:\n    - group_name: workers\n      replicas: 2\n"
        "  head_node_config:\n    ray_start_params:\n      num-cpus: '0'\n"
    )
    assert flyte.load_plugin_config(path) == ClusterConfig(
        worker_node_config=[WorkerGroup("workers", 2)], head_node_config=HeadNode({"num-cpus": "0"})
    )
    path.write_text("plugin: tests.flyte.surface_programs.plugin_configs.ClusterConfig\nconfig: {gpus: 1}\n")
    with pytest.raises(ValueError, match="gpus"):
        flyte.load_plugin_config(path)
    path.write_text("plugin: nowhere.Config\n")
    with pytest.raises(ValueError, match="nowhere"):
        flyte.load_plugin_config(path)


# --- task hooks ----------------------------------------------------------------------------

_events: list[str] = []


@env.task
async def doubled(x: int) -> int:
    _events.append(f"run {x} with {(flyte.ctx().data or {}).get('cluster')}")
    return x * 2


class AuditedTask(type(doubled)):  # type: ignore[misc]
    """A plugin-style task: hooks around execution, its own config and command line."""

    async def pre(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        _events.append(f"pre {kwargs}")
        return {"cluster": "ray://head:10001"}

    async def post(self, return_vals: Any) -> Any:
        _events.append(f"post {return_vals}")
        return "ignored"

    def custom_config(self, sctx: SerializationContext) -> dict[str, Any]:
        return {"cluster": {"workers": 2}}

    def container_args(self, serialize_context: SerializationContext) -> list[str]:
        return ["custom-entry", serialize_context.version]


def test_pre_and_post_run_around_each_execution_and_plugins_shape_the_template(tmp_path: Path) -> None:
    from flyte._internal.serde._task import task_template_to_proto

    audited = AuditedTask(**{f.name: getattr(doubled, f.name) for f in dataclasses.fields(doubled)})
    flyte.init(local_cache_dir=tmp_path / "cache")
    _events.clear()
    assert flyte.run(audited, x=4).outputs().o0 == 8
    assert _events == ["pre {'x': 4}", "run 4 with ray://head:10001", "post 8"]
    _events.clear()
    assert flyte.run(doubled, x=1).outputs().o0 == 2 and _events == ["run 1 with None"]
    assert asyncio.run(doubled.forward(3)) == 6  # straight to the function

    template = task_template_to_proto(audited, SerializationContext(version="v9"))
    assert list(template.container.args) == ["custom-entry", "v9"]
    assert template.custom["cluster"]["workers"] == 2
    default_args = doubled.container_args(SerializationContext(version="v9"))
    assert default_args[:2] == ["a0", "--inputs"] and "v9" in default_args
    assert doubled.native_interface is doubled.interface


# --- pods, images, GPUs, artifact triggers -------------------------------------------------


def test_pod_template_to_k8s_pod_with_a_grace_period() -> None:
    pod = flyte.PodTemplate(
        pod_spec={"containers": [{"name": "primary", "image": "x"}], "nodeSelector": {"pool": "gpu"}},
        labels={"team": "ml"},
    ).with_termination_grace_period(timedelta(minutes=2))
    k8s = pod.to_k8s_pod()
    assert k8s.primary_container_name == "primary" and k8s.metadata.labels["team"] == "ml"
    assert k8s.pod_spec["terminationGracePeriodSeconds"] == 120
    assert k8s.pod_spec["nodeSelector"]["pool"] == "gpu"
    bare = flyte.PodTemplate(primary_container_name="main").to_k8s_pod()
    assert bare.pod_spec["containers"][0]["name"] == "main"
    with pytest.raises(ValueError):
        flyte.PodTemplate().with_termination_grace_period(-1)


def test_pixi_images_and_the_local_sdk_layer(tmp_path: Path) -> None:
    script = tmp_path / "geo.py"
    script.write_text(
        "# /// script\n# requires-python = '>=3.12'\n# dependencies = ['flyte']\n#\n"
        "# [tool.pixi.dependencies]\n# python = '3.11.*'\n# gdal = '*'\n# ///\nprint(1)\n"
    )
    image = flyte.Image.from_pixi_script(script, name="geo")
    assert image.python_version == (3, 11) and image.base_image == "python:3.11-slim-bookworm"
    (tmp_path / "pixi.toml").write_text("[workspace]\nname = 'x'\n")
    (tmp_path / "pixi.lock").write_text("version: 6\n")
    project = flyte.Image.from_debian_base().with_pixi_project(tmp_path)
    assert project.layers[-1].manifest == tmp_path / "pixi.toml"  # type: ignore[attr-defined]
    assert project.layers[-1].pixi_lock == tmp_path / "pixi.lock"  # type: ignore[attr-defined]
    # The local SDK is one more layer; as in PyPI flyte, it does not change the content tag.
    assert len(project.with_local_v2().layers) == len(project.layers) + 1
    assert project.with_local_v2().uri == project.uri
    with pytest.raises(FileNotFoundError):
        flyte.Image.from_debian_base().with_pixi_project(tmp_path / "absent")


def test_deprecated_gpu_names_are_normalised() -> None:
    resources = flyte.Resources(gpu="A100 80G:8")
    assert resources.gpu == "A100_80G:8"
    with pytest.raises(ValueError):
        flyte.Resources(gpu="A100 80G:9")


def test_artifact_triggers_are_declared_but_refused_at_deploy() -> None:
    from flyte._internal.serde._trigger import trigger_to_proto

    trigger = flyte.Trigger(
        "retrain",
        flyte.OnArtifact("model", region="us"),
        inputs={"model": flyte.TriggeredArtifact, "day": flyte.TriggeredPartition("date")},
    )
    assert trigger.automation.partitions == {"region": "us"}
    with pytest.raises(ValueError, match="no artifact service"):
        trigger_to_proto(trigger)


# --- run_python_script ---------------------------------------------------------------------


def test_run_python_script_runs_a_script_with_its_files_and_reports_failures(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    (tmp_path / "helper_data.txt").write_text("41")
    script = tmp_path / "job.py"
    script.write_text(
        "import sys, pathlib\n"
        "value = int(pathlib.Path('helper_data.txt').read_text()) + int(sys.argv[1])\n"
        "pathlib.Path(sys.argv[2]).write_text(str(value))\n"
    )
    result = tmp_path / "result.txt"
    run = flyte.run_python_script(
        script, cpu=1, memory="1Gi", extra_args=["1", str(result)], include_files=[str(tmp_path / "helper_data.txt")]
    )
    assert run.outputs().o0 == 0 and result.read_text() == "42"

    failing = tmp_path / "fails.py"
    failing.write_text("print('about to fail')\nraise SystemExit(3)\n")
    with pytest.raises(flyte.errors.RuntimeUserError, match="status 3"):
        flyte.run_python_script(failing, cpu=1, memory="1Gi")
    with pytest.raises(NotImplementedError, match="clustered"):
        flyte.run_python_script(script, clustered=True)
    with pytest.raises(FileNotFoundError):
        flyte.run_python_script(tmp_path / "absent.py")
    assert callable(flyte.run_python_script.aio)


# --- more members: environments from tasks, task facts, interfaces, pod capabilities --------


def test_environment_from_tasks_and_task_facts() -> None:
    import weakref

    loose = dataclasses.replace(doubled, name="loose.doubled", parent_env=None)
    env2 = flyte.TaskEnvironment.from_task("from-tasks", loose)
    assert env2.tasks == {"loose.doubled": loose} and loose.parent_env_name == "from-tasks"
    assert env2.image == "auto"
    with pytest.raises(ValueError, match="already belong"):
        flyte.TaskEnvironment.from_task("again", doubled)
    other = dataclasses.replace(doubled, name="other.doubled", parent_env=None, image="python:3.12")
    third = dataclasses.replace(doubled, name="third.doubled", parent_env=None, image="python:3.11")
    with pytest.raises(ValueError, match="one image"):
        flyte.TaskEnvironment.from_task("mixed", other, third)
    assert isinstance(loose.parent_env, weakref.ref)

    assert doubled.parent_env_name == "surface-features"
    assert doubled.source_file == __file__
    assert doubled.json_schema == {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    assert (doubled.sql(SerializationContext(version="v")), doubled.task_type_version, doubled.ref) == (None, 0, False)
    interface = doubled.native_interface
    assert interface.get_input_types() == {"x": int} and interface.num_required_inputs() == 1


def test_pod_capabilities_for_fuse_and_nested_sandboxes() -> None:
    fuse = flyte.PodTemplate(primary_container_name="main").allow_fuse()
    main = fuse.pod_spec["containers"][0]
    assert main["resources"]["limits"]["smarter-devices/fuse"] == "1"
    assert main["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]
    assert fuse.annotations == {"flyte.org/capability-fuse": "true"}
    sandboxed = fuse.allow_nested_sandboxing()
    security = sandboxed.pod_spec["containers"][0]["securityContext"]
    assert security["capabilities"]["add"] == ["SYS_ADMIN"] and security["allowPrivilegeEscalation"] is False
    assert sandboxed.annotations["container.apparmor.security.beta.kubernetes.io/main"] == "unconfined"
    assert flyte.PodTemplate().allow_fuse(privileged=True).pod_spec["containers"][0]["securityContext"] == {
        "privileged": True
    }
    with pytest.raises(NotImplementedError, match="Rust controller"):
        flyte.Image.from_debian_base().with_local_rs_controller()
