from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

import flyte._cache
from flyte._cache import Cache, CachePolicy, FunctionBodyPolicy, VersionParameters, normalize_cache

SRC_ROOT = Path(flyte._cache.__file__).parent.parent


def add_one(x: int) -> int:
    return x + 1


def test_normalize_cache_forms() -> None:
    assert normalize_cache(None).behavior == "disable"
    assert normalize_cache(False).behavior == "disable"
    assert normalize_cache(True).behavior == "auto"
    assert normalize_cache("override").behavior == "override"
    cache = Cache("auto", salt="x")
    assert normalize_cache(cache) is cache
    with pytest.raises(TypeError, match=r"cache must be a flyte.Cache, a bool or one of"):
        normalize_cache(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "behavior"), [("on", "auto"), ("enabled", "auto"), ("off", "disable"), ("no", "disable")]
)
def test_behavior_aliases(alias: str, behavior: str) -> None:
    assert Cache(alias).behavior == behavior  # type: ignore[arg-type]


def test_unknown_behavior_is_rejected_with_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"Cache behavior must be one of \['auto', 'override', 'disable'\].*'sometimes'"
    ):
        Cache("sometimes")  # type: ignore[arg-type]


def test_is_enabled() -> None:
    assert Cache("auto").is_enabled()
    assert Cache("override", version_override="1").is_enabled()
    assert not Cache("disable").is_enabled()


def test_ignored_inputs_become_a_tuple() -> None:
    assert Cache("auto", ignored_inputs="verbose").ignored_inputs == ("verbose",)
    assert Cache("auto", ignored_inputs=("a", "b")).get_ignored_inputs() == ("a", "b")
    assert Cache("auto").ignored_inputs == ()
    with pytest.raises(ValueError, match=r"Cache ignored_inputs must be input names"):
        Cache("auto", ignored_inputs=(1,))  # type: ignore[arg-type]


def test_max_age() -> None:
    assert Cache("auto", max_age=60).max_age == timedelta(minutes=1)
    assert Cache("auto", max_age=timedelta(hours=1)).max_age == timedelta(hours=1)
    with pytest.raises(ValueError, match=r"Cache max_age must not be negative"):
        Cache("auto", max_age=-1)


def test_version_override_wins() -> None:
    assert Cache("override", version_override="v7").get_version() == "v7"
    assert Cache("auto", version_override="v7").get_version(VersionParameters(func=add_one)) == "v7"


def test_disabled_cache_has_empty_version() -> None:
    assert Cache("disable").get_version(VersionParameters(func=add_one)) == ""


def test_auto_version_needs_parameters_and_policies() -> None:
    with pytest.raises(ValueError, match=r"needs VersionParameters"):
        Cache("auto").get_version()
    with pytest.raises(ValueError, match=r"at least one policy"):
        Cache("auto", policies=[]).get_version(VersionParameters(func=add_one))


def test_override_without_version_falls_back_to_policies() -> None:
    params = VersionParameters(func=add_one)
    assert Cache("override").get_version(params) == Cache("auto").get_version(params)


def test_auto_version_is_a_hex_digest_that_depends_on_the_salt() -> None:
    params = VersionParameters(func=add_one)
    version = Cache("auto").get_version(params)
    assert len(version) == 64 and int(version, 16) >= 0
    assert Cache("auto").get_version(params) == version
    assert Cache("auto", salt="2").get_version(params) != version


def test_custom_policies_are_combined() -> None:
    class Fixed:
        def __init__(self, value: str) -> None:
            self.value = value

        def get_version(self, salt: str, params: VersionParameters) -> str:
            return self.value

    params = VersionParameters(func=None)
    assert isinstance(Fixed("a"), CachePolicy)
    one = Cache("auto", policies=Fixed("a")).get_version(params)
    assert one == Cache("auto", policies=[Fixed("a")]).get_version(params)
    assert one != Cache("auto", policies=[Fixed("b")]).get_version(params)
    assert one != Cache("auto", policies=[Fixed("a"), Fixed("b")]).get_version(params)


def test_failing_policy_is_reported_with_its_name() -> None:
    class Broken:
        def get_version(self, salt: str, params: VersionParameters) -> str:
            raise RuntimeError("schema registry down")

    with pytest.raises(ValueError, match=r"cache policy Broken failed to compute a version: schema registry down"):
        Cache("auto", policies=[Broken()]).get_version(VersionParameters(func=None))


def test_objects_without_get_version_are_not_policies() -> None:
    with pytest.raises(ValueError, match=r"Cache policies must have a get_version"):
        Cache("auto", policies=[object()])  # type: ignore[list-item]


def test_caches_compare_by_value() -> None:
    assert Cache("auto") == Cache("auto")
    assert hash(Cache("auto", ignored_inputs="x")) == hash(Cache("auto", ignored_inputs=("x",)))


def test_function_body_policy_ignores_decorators_but_not_the_body(tmp_path: Path) -> None:
    def version_of(source: str) -> str:
        path = tmp_path / f"mod_{abs(hash(source))}.py"
        path.write_text(textwrap.dedent(source))
        namespace: dict[str, object] = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        # inspect.getsource reads the file through linecache, which works for compiled files.
        return FunctionBodyPolicy().get_version("", VersionParameters(func=namespace["f"]))  # type: ignore[arg-type]

    plain = version_of("def f(x):\n    return x + 1\n")
    decorated = version_of("import functools\n@functools.lru_cache\ndef f(x):\n    return x + 1\n")
    changed = version_of("def f(x):\n    return x + 2\n")
    assert plain == decorated
    assert plain != changed


def test_function_body_policy_without_source_uses_the_bytecode() -> None:
    def compiled(body: str) -> object:
        namespace: dict[str, object] = {}
        exec(f"def g():\n    return {body}\n", namespace)
        return namespace["g"]

    def version(func: object) -> str:
        return FunctionBodyPolicy().get_version("", VersionParameters(func=func))  # type: ignore[arg-type]

    assert version(compiled("1")) == version(compiled("1"))
    assert version(compiled("1")) != version(compiled("2"))


def test_function_body_policy_without_source_or_code_explains_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"version_override"):
        FunctionBodyPolicy().get_version("", VersionParameters(func=len))


def test_function_body_version_is_stable_across_processes(tmp_path: Path) -> None:
    module = tmp_path / "tasks_mod.py"
    module.write_text("def work(x: int) -> int:\n    return x * 2\n")
    script = (
        "import tasks_mod\n"
        "from flyte._cache import Cache, VersionParameters\n"
        "print(Cache('auto').get_version(VersionParameters(func=tasks_mod.work)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(SRC_ROOT)]), "PYTHONHASHSEED": "random"}

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    first, second = run(), run()
    assert first == second and len(first) == 64
    module.write_text("def work(x: int) -> int:\n    return x * 3\n")
    assert run() != first
