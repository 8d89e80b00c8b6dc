"""Our task, run and trigger messages equal what PyPI flyte 2.12.1 sends, message for message.

The reference SDK runs as a black box in its own venv (``$FLYTE_REFERENCE_PYTHON`` or
``~/.cache/flyte-ours/refvenv-2.12.1``, built by ``tests/compat``), deploying and running a module
against the fake control plane, which records every request. We then serialise the same module
with our serde, using the version, bundle URI and image cache the reference chose, and compare.

Only ``discovery_version`` of tasks without an explicit cache version is left out: it hashes the
function with each SDK's own cache policy. The test skips when no reference venv exists.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_plane import FakePlane
from flyteidl2.task import task_definition_pb2
from google.protobuf import text_format

from flyte._internal.serde import (
    CodeBundle,
    ImageCache,
    SerializationContext,
    run_spec_to_proto,
    task_to_spec,
    trigger_to_proto,
)
from flyte._internal.serde._trigger import trigger_inputs
from flyte._run import RunConfig

MODULE = "serde_reference_tasks"

SOURCE = textwrap.dedent(
    '''
    """Tasks both SDKs serialise (importable by either)."""
    from datetime import datetime, timedelta
    from typing import NamedTuple, Optional

    import flyte

    base = flyte.TaskEnvironment(name="base_env", description="An environment described at length. " * 10)

    env = flyte.TaskEnvironment(
        name="rich",
        resources=flyte.Resources(cpu=(1, 2), memory=("1Gi", "2Gi"), gpu="A100:2", disk="10Gi", shm="auto"),
        secrets=[flyte.Secret(key="k1", mount="/etc/flyte/secrets"), "plain", flyte.Secret(key="t", group="gh")],
        env_vars={"FOO": "bar"},
        depends_on=[base],
        interruptible=True,
        description="rich env",
    )


    class Pair(NamedTuple):
        total: int
        label: str


    @env.task(
        entrypoint=True,
        timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), max_queued_time=timedelta(seconds=60)),
        retries=3,
        report=True,
        cache=flyte.Cache(behavior="override", version_override="v7", ignored_inputs=("flag",), serialize=True),
        triggers=(
            flyte.Trigger("every-minute", flyte.Cron("* * * * *"), inputs={"n": 5}),
            flyte.Trigger("timed", flyte.Cron("0 1 * * *"), inputs={"when": flyte.TriggerTime, "n": 1}),
        ),
    )
    async def entry(
        n: int, when: Optional[datetime] = None, names: list[str] = ["a", "b"], flag: bool = False
    ) -> dict[str, int]:
        """Short summary line.

        A longer description that spans
        several lines.
        """
        return {}


    @env.task(cache="disable", interruptible=False, short_name="plain-task")
    async def plain(x: str, maybe: Optional[dict[str, int]] = None) -> Pair:
        return Pair(1, x)


    @base.task
    def b(x: int = 1) -> tuple[int, float]:
        return x, 1.0

    '''
)
# Texts longer than the protocol allows (short name 63, descriptions 255 and 2048): cut, not refused.
SOURCE += textwrap.dedent(
    f'''

    @base.task
    async def a_task_whose_function_name_is_longer_than_sixty_three_characters_in_all() -> None:
        """{"A summary line that goes on and on. " * 10}

        {"A body longer than the protocol allows. " * 60}
        """
        return None
    '''
)

REFERENCE_SCRIPT = textwrap.dedent(
    """
    import pathlib, sys
    import flyte
    root = pathlib.Path(sys.argv[2])
    sys.path.insert(0, str(root))
    flyte.init(endpoint=sys.argv[1], insecure=True, project="p", domain="d", root_dir=root)
    import {module} as tasks
    if "flyte/_internal" in flyte.__file__ or "+ours" in flyte.__version__:
        sys.exit("not the reference SDK: " + flyte.__file__)
    flyte.deploy(tasks.env, version="v1")
    flyte.with_runcontext(name="compat-run", env_vars={{"E": "1"}}, labels={{"l": "x"}}).run(tasks.plain, x="hi")
    """
).format(module=MODULE)


def _reference_python() -> str | None:
    configured = os.environ.get("FLYTE_REFERENCE_PYTHON")
    if configured:
        return configured
    venv = Path(os.environ.get("FLYTE_REFERENCE_VENV", Path.home() / ".cache" / "flyte-ours" / "refvenv-2.12.1"))
    python = venv / "bin" / "python"
    return str(python) if python.exists() else None


class Captured:
    def __init__(self, records: list[tuple[str, Any]], module: Any) -> None:
        self.records = records
        self.module = module

    def requests(self, method: str) -> list[Any]:
        return [message for name, message in self.records if name == method]

    def deployed(self, name: str) -> Any:
        (request,) = [r for r in self.requests("DeployTask") if r.task_id.name == name]
        return request


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    python = _reference_python()
    if python is None:
        pytest.skip("no reference venv with flyte 2.12.1 (see tests/compat)")
    root = tmp_path_factory.mktemp("reference-code")
    (root / f"{MODULE}.py").write_text(SOURCE)
    (root / "capture.py").write_text(REFERENCE_SCRIPT)

    async def capture() -> list[tuple[str, Any]]:
        async with FakePlane(tmp_path_factory.mktemp("plane")) as plane:
            env = {key: value for key, value in os.environ.items() if not key.startswith(("FLYTE", "PYTEST"))}
            env["HOME"] = str(root / "home")  # no cached bundle from an earlier run
            endpoint = plane.endpoint.replace("127.0.0.1", "localhost")
            process = await asyncio.create_subprocess_exec(
                python,
                str(root / "capture.py"),
                endpoint,
                str(root),
                cwd=root,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), 120)
            assert process.returncode == 0, output.decode(errors="replace")
            return list(plane.records)

    records = asyncio.run(capture())
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(MODULE)
        yield Captured(records, module)
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(MODULE, None)


def _context(reference: task_definition_pb2.TaskSpec, **overrides: Any) -> SerializationContext:
    template = reference.task_template
    args = list(template.container.args)
    sys_path = {pair.key: pair.value for pair in template.container.env}.get("_F_SYS_PATH")
    values: dict[str, Any] = {
        "version": template.id.version,
        "project": template.id.project,
        "domain": template.id.domain,
        "org": template.id.org,
        "code_bundle": CodeBundle(tgz=args[args.index("--tgz") + 1]),
        "image_cache": ImageCache.from_transport(args[args.index("--image-cache") + 1]),
        "sys_path": sys_path,  # the client computes it from its root dir and sys.path
    }
    values.update(overrides)
    return SerializationContext(**values)


def _text(spec: task_definition_pb2.TaskSpec, *, drop_discovery_version: bool) -> str:
    copy = task_definition_pb2.TaskSpec()
    copy.CopyFrom(spec)
    if drop_discovery_version:
        copy.task_template.metadata.discovery_version = ""
    return text_format.MessageToString(copy)


@pytest.mark.parametrize(
    ("task_name", "variable", "explicit_cache_version"),
    [
        ("rich.entry", "entry", True),
        ("rich.plain", "plain", False),
        ("base_env.b", "b", False),
        (
            "base_env.a_task_whose_function_name_is_longer_than_sixty_three_characters_in_all",
            "a_task_whose_function_name_is_longer_than_sixty_three_characters_in_all",
            False,
        ),
    ],
)
async def test_deployed_task_specs_are_identical(
    captured: Captured, task_name: str, variable: str, explicit_cache_version: bool
):
    reference = captured.deployed(task_name).spec
    ours = await task_to_spec(getattr(captured.module, variable), _context(reference), deploy=True)
    drop = not explicit_cache_version
    assert _text(ours, drop_discovery_version=drop) == _text(reference, drop_discovery_version=drop)


async def test_the_run_spec_and_root_task_spec_are_identical(captured: Captured):
    (upload,) = [r for r in captured.requests("UploadInputs") if r.HasField("run_id")]
    (create,) = captured.requests("CreateRun")
    ours = await task_to_spec(captured.module.plain, _context(upload.task_spec))
    assert _text(ours, drop_discovery_version=True) == _text(upload.task_spec, drop_discovery_version=True)
    assert create.run_id.name == "compat-run"
    config = RunConfig(name="compat-run", env_vars={"E": "1"}, labels={"l": "x"})
    sys_path = {pair.key: pair.value for pair in create.run_spec.envs.values}["_F_SYS_PATH"]
    assert text_format.MessageToString(run_spec_to_proto(config, sys_path=sys_path)) == (
        text_format.MessageToString(create.run_spec)
    )


async def test_triggers_and_their_inputs_are_identical(captured: Captured):
    deployed = captured.deployed("rich.entry")
    uploads = [r for r in captured.requests("UploadInputs") if r.HasField("project_id")]
    task = captured.module.entry
    for trigger, reference in zip(task.triggers, deployed.triggers, strict=True):
        inputs = await trigger_inputs(trigger, task)
        assert any(upload.inputs == inputs for upload in uploads), text_format.MessageToString(inputs)
        ours = trigger_to_proto(trigger, offloaded_inputs=reference.spec.offloaded_input_data)
        assert text_format.MessageToString(ours) == text_format.MessageToString(reference)
