"""The default resolver: ``mod <module> instance <task>`` written at deploy time, loaded in the worker."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import runtime_tasks as rt

from flyte._internal.resolvers import load_resolver
from flyte._internal.resolvers.default import DefaultTaskResolver, module_name_of
from flyte.errors import ModuleLoadError

RESOLVER = "flyte._internal.resolvers.default.DefaultTaskResolver"


def test_tasks_of_importable_modules_round_trip():
    resolver = load_resolver(RESOLVER)
    assert resolver.import_path == RESOLVER
    args = resolver.loader_args(rt.square, None)
    assert args == ["mod", "runtime_tasks", "instance", "square"]
    assert resolver.load_task(args) is rt.square


def test_a_script_run_as_main_is_named_by_its_path_under_the_root(tmp_path: Path):
    package = tmp_path / "pipelines"
    package.mkdir()
    script = package / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import flyte
            env = flyte.TaskEnvironment(name="scripted")

            @env.task
            async def fit(x: int) -> int:
                return x
            """
        )
    )
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    task = namespace["fit"]
    assert module_name_of(task, tmp_path) == "pipelines.train"  # type: ignore[arg-type]
    with pytest.raises(ModuleLoadError, match="outside the root directory"):
        module_name_of(task, tmp_path / "elsewhere")  # type: ignore[arg-type]


def test_load_errors_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    resolver = DefaultTaskResolver()
    with pytest.raises(ModuleLoadError, match="mod <module> instance <task>"):
        resolver.load_task(["module", "x"])
    with pytest.raises(ModuleLoadError, match="Cannot import module 'no_such_module_xyz'"):
        resolver.load_task(["mod", "no_such_module_xyz", "instance", "t"])
    with pytest.raises(ModuleLoadError, match="not a Flyte task"):
        resolver.load_task(["mod", "runtime_tasks", "instance", "env"])
    (tmp_path / "broken_tasks_xyz.py").write_text("raise RuntimeError('import-time failure')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleLoadError, match="RuntimeError: import-time failure"):
        resolver.load_task(["mod", "broken_tasks_xyz", "instance", "t"])
    sys.modules.pop("broken_tasks_xyz", None)
    with pytest.raises(ModuleLoadError, match=r"not a 'module\.ClassName'"):
        load_resolver("Resolver")
    with pytest.raises(ModuleLoadError, match="Cannot load task resolver"):
        load_resolver("flyte._internal.resolvers.default.NoSuchResolver")
