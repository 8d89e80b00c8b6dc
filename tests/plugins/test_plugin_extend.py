"""``flyte.extend`` as the PyPI plugins use it: they import, their tasks are built and serialized as
PyPI flyte does, and a plugin's hooks run around the task's code."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import tarfile
import weakref
from pathlib import Path
from typing import Any

import pytest
from plugin_programs import PROGRAMS, program_env

import flyte
from flyte.extend import (
    PRIMARY_CONTAINER_DEFAULT_NAME,
    AsyncFunctionTaskTemplate,
    TaskPluginRegistry,
    download_code_bundle,
    get_proto_resources,
    is_initialized,
    lazy_module,
)
from flyte.models import CodeBundle


def test_the_five_pypi_plugins_import_on_our_sdk() -> None:
    for name in ("ray", "dask", "spark", "polars", "pandera"):
        result = subprocess.run(
            [sys.executable, "-c", f"import flyteplugins.{name}"], env=program_env(), capture_output=True, text=True
        )
        assert result.returncode == 0, f"flyteplugins.{name}: {result.stderr[-2000:]}"


def test_plugin_task_specs_equal_pypi_flytes(refplugins_python: str) -> None:
    def specs(python: str) -> dict[str, Any]:
        result = subprocess.run(
            [python, str(PROGRAMS / "plugin_specs.py")], cwd=PROGRAMS, env=program_env(), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    ours, reference = specs(sys.executable), specs(refplugins_python)
    assert ours == reference
    assert {name: spec["type"] for name, spec in ours.items()} == {
        "ray_env.ray_task": "ray",
        "dask_env.dask_task": "dask",
        "spark_env.spark_task": "spark",
    }
    assert ours["ray_env.ray_task"]["custom"]["rayCluster"]["workerGroupSpec"][0]["replicas"] == 2


@dataclasses.dataclass
class Greeting:
    text: str


@dataclasses.dataclass
class Farewell:
    text: str


seen_results: list[Any] = []


@dataclasses.dataclass(kw_only=True)
class GreetingTask(AsyncFunctionTaskTemplate):
    task_type: str = "greeting"
    task_type_version: int = 3
    plugin_config: Greeting

    async def pre(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"greeting": self.plugin_config.text}

    async def post(self, return_vals: Any) -> Any:
        seen_results.append(return_vals)
        return "ignored"

    def custom_config(self, sctx: Any) -> dict[str, Any]:
        return {"text": self.plugin_config.text}


@dataclasses.dataclass(kw_only=True)
class FarewellTask(AsyncFunctionTaskTemplate):
    task_type: str = "farewell"
    plugin_config: Farewell


TaskPluginRegistry.register(Greeting, GreetingTask)
TaskPluginRegistry.register(config_type=Farewell, plugin=FarewellTask)

greeting_env = flyte.TaskEnvironment(name="greeting_plugin", plugin_config=Greeting("hello"))


@greeting_env.task
async def greet(name: str) -> str:
    return f"{flyte.ctx().data['greeting']} {name}"


def test_environment_builds_the_registered_template_and_runs_its_hooks() -> None:
    assert type(greet) is GreetingTask and greet.task_type == "greeting"
    flyte.init()
    assert flyte.run(greet, name="ada").outputs()[0] == "hello ada"
    assert seen_results[-1] == "hello ada"  # post saw the result and could not change it
    # Plugin dataclasses get a field-wise __eq__ without a hash: tasks stay hashable by identity.
    registry: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary({greet: 1})
    assert registry[greet] == 1


def test_serialized_template_carries_type_version_and_custom() -> None:
    from flyte._internal.serde._task import task_template_to_proto
    from flyte.models import SerializationContext

    template = task_template_to_proto(greet, SerializationContext(version="v1"))
    assert (template.type, template.task_type_version, dict(template.custom)) == ("greeting", 3, {"text": "hello"})


def test_override_with_another_plugins_config_switches_the_template() -> None:
    farewell = greet.override(plugin_config=Farewell("bye"))
    assert type(farewell) is FarewellTask and farewell.task_type == "farewell"
    assert farewell.func is greet.func


def test_unregistered_config_is_refused_with_a_clear_error() -> None:
    class Unknown:
        pass

    env = flyte.TaskEnvironment(name="no_plugin", plugin_config=Unknown())
    with pytest.raises(ValueError, match="No task plugin found for config type"):

        @env.task
        def t() -> None: ...

    class Sub(Greeting):
        pass

    assert TaskPluginRegistry.find(Sub) is None and TaskPluginRegistry.find(Greeting) is GreetingTask


def test_download_code_bundle_extracts_once_and_makes_the_code_importable(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "bundled_mod_h1.py").write_text("VALUE = 42\n")
    archive = tmp_path / "fast.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "bundled_mod_h1.py", arcname="bundled_mod_h1.py")
    bundle = CodeBundle(tgz=str(archive), destination=str(tmp_path / "dest"))
    downloaded = asyncio.run(download_code_bundle(bundle))
    assert downloaded.downloaded_path == tmp_path / "dest"
    assert (tmp_path / "dest" / "bundled_mod_h1.py").read_text() == "VALUE = 42\n"
    import bundled_mod_h1  # type: ignore[import-not-found]

    assert bundled_mod_h1.VALUE == 42
    assert asyncio.run(download_code_bundle(downloaded)) is downloaded


def test_helpers() -> None:
    resources = get_proto_resources(flyte.Resources(cpu=2, memory="1Gi"))
    assert resources is not None and [(e.name, e.value) for e in resources.requests] == [(1, "2"), (3, "1Gi")]
    assert get_proto_resources(None) is None
    assert PRIMARY_CONTAINER_DEFAULT_NAME == "primary"
    assert lazy_module("json").dumps([1]) == "[1]"
    missing = lazy_module("no_such_module_h1")
    with pytest.raises(ImportError, match="no_such_module_h1"):
        missing.anything  # noqa: B018
    flyte.init()
    assert is_initialized()


_ENTRY_POINTS = r"""
import json, sys
import flyte
if sys.argv[1] == "off":
    flyte.init(load_plugin_type_transformers=False)
from flyte.types import TypeEngine
TypeEngine.to_literal_type(int)
before = "flyteplugins.polars" in sys.modules
import polars as pl
transformer = type(TypeEngine.get_transformer(pl.DataFrame)).__name__
print(json.dumps([before, "flyteplugins.polars" in sys.modules, "flyteplugins.pandera" in sys.modules, transformer]))
"""


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("on", [False, True, True, "DataFrameTransformerEngine"]), ("off", [False, False, False, "RawFrameTransformer"])],
)
def test_plugin_type_transformers_load_from_entry_points(mode: str, expected: list[Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _ENTRY_POINTS, mode], env=program_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
