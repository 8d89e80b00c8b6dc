"""The public surface of PyPI ``flyte`` 2.12.1 exists in ours.

The reference's names are enumerated from its own interpreter (``tests/reference.py``), module
by module, so the test follows the reference rather than a list typed here. Names that belong
to features other issues build are listed in ``EXCLUDED`` with the owning issue.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
from typing import Any

import pytest
from tests.reference import find_reference_python, reference_env

MODULES = (
    "flyte",
    "flyte.errors",
    "flyte.models",
    "flyte.types",
    "flyte.report",
    "flyte.syncify",
    "flyte.git",
    "flyte.durable",
    "flyte.remote",
    "flyte.notify",
    "flyte.extend",
    "flyte.io.extend",
    "flyte.sandbox",
    "flyte.app",
    "flyte.app.extras",
)

# Names another issue owns, with the issue. Each one must still be missing from ours or present:
# the test only skips them, it does not require their absence.
EXCLUDED: dict[str, str] = {}

# Reference names that are not API: typing helpers and modules a module without ``__all__``
# happens to import (flyte.models has none, so ``dir()`` shows its imports).
_NOISE = {"annotations", "TYPE_CHECKING", "logger", "Literal"}

_ENUMERATE = r"""
import importlib, inspect, json, sys, types

NOISE = set(json.loads(sys.argv[1]))
out = {}
for module_name in sys.argv[2:]:
    module = importlib.import_module(module_name)
    declared = getattr(module, "__all__", None)
    names = list(declared) if declared is not None else [n for n in dir(module) if not n.startswith("_")]
    entries = {}
    for name in names:
        value = getattr(module, name)
        if declared is None:
            # Without __all__, keep only what the module defines or what flyte defines.
            if name in NOISE or isinstance(value, types.ModuleType):
                continue
            origin = getattr(value, "__module__", None) if (inspect.isclass(value) or callable(value)) else None
            if origin is not None and not origin.startswith("flyte"):
                continue
            if origin is None and not (name.isupper() or type(value).__module__.startswith("flyte")):
                continue
        entries[name] = {
            "aio": hasattr(value, "aio") and not inspect.isclass(value),
            "exception": inspect.isclass(value) and issubclass(value, BaseException),
        }
    out[module_name] = entries
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def reference_names() -> dict[str, dict[str, dict[str, bool]]]:
    python = find_reference_python()
    result = subprocess.run(
        [python, "-c", _ENUMERATE, json.dumps(sorted(_NOISE)), *MODULES],
        capture_output=True,
        text=True,
        env=reference_env(),
        timeout=300,
        check=True,
    )
    names: dict[str, dict[str, dict[str, bool]]] = json.loads(result.stdout)
    return names


def _ours(module_name: str) -> Any:
    return importlib.import_module(module_name)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_of_the_reference_exists(
    reference_names: dict[str, dict[str, dict[str, bool]]], module_name: str
) -> None:
    module = _ours(module_name)
    wanted = [name for name in reference_names[module_name] if f"{module_name}.{name}" not in EXCLUDED]
    missing = [name for name in wanted if not hasattr(module, name)]
    assert missing == [], f"{module_name} lacks {missing}"
    assert len(wanted) > 0


@pytest.mark.parametrize("module_name", MODULES)
def test_every_function_with_aio_in_the_reference_has_aio(
    reference_names: dict[str, dict[str, dict[str, bool]]], module_name: str
) -> None:
    module = _ours(module_name)
    lacking = [
        name
        for name, facts in reference_names[module_name].items()
        if facts["aio"]
        and f"{module_name}.{name}" not in EXCLUDED
        and not callable(getattr(getattr(module, name), "aio", None))
    ]
    assert lacking == [], f"{module_name}: no .aio on {lacking}"


_ERROR_SHAPES = r"""
import inspect, json, flyte.errors as errors
out = {}
for name in dir(errors):
    cls = getattr(errors, name)
    if not (inspect.isclass(cls) and issubclass(cls, BaseException)) or cls.__module__ != "flyte.errors":
        continue
    try:
        params = [
            [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
            for p in inspect.signature(cls).parameters.values()
        ]
    except ValueError:  # a class with no Python constructor of its own
        params = None
    bases = [b.__name__ for b in cls.__mro__[1:] if b.__module__ == "flyte.errors"]
    out[name] = {"params": params, "bases": bases}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def reference_errors() -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [find_reference_python(), "-c", _ERROR_SHAPES],
        capture_output=True,
        text=True,
        env=reference_env(),
        timeout=300,
        check=True,
    )
    shapes: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return shapes


def test_error_constructors_take_the_reference_arguments(reference_errors: dict[str, dict[str, Any]]) -> None:
    """Every reference parameter is ours too, in the same place, kind and default; what we add
    comes after, with a default (so every call valid against the reference is valid against ours)."""
    import flyte.errors as errors

    mismatches = []
    for name, shape in sorted(reference_errors.items()):
        if shape["params"] is None:
            continue
        ours = [
            [p.name, p.kind.name, None if p.default is p.empty else repr(p.default), p]
            for p in inspect.signature(getattr(errors, name)).parameters.values()
        ]
        reference = shape["params"]
        head = [entry[:3] for entry in ours[: len(reference)]]
        extra = [entry[3] for entry in ours[len(reference) :]]
        extra_ok = all(p.default is not p.empty or p.kind is p.VAR_KEYWORD for p in extra)
        if head != reference or not extra_ok:
            mismatches.append(f"{name}: reference {reference}, ours {[entry[:3] for entry in ours]}")
    assert mismatches == [], "\n".join(mismatches)


def test_error_classes_keep_the_reference_hierarchy(reference_errors: dict[str, dict[str, Any]]) -> None:
    import flyte.errors as errors

    wrong = [
        f"{name} is not a {base}"
        for name, shape in reference_errors.items()
        for base in shape["bases"]
        if not issubclass(getattr(errors, name), getattr(errors, base))
    ]
    assert wrong == []


def test_error_codes_and_kinds_follow_the_constructor() -> None:
    import flyte.errors as errors

    system = errors.RuntimeSystemError("StorageDown", "the bucket is unreachable", "worker-1")
    assert (system.code, system.kind, system.worker, str(system)) == (
        "StorageDown",
        "system",
        "worker-1",
        "the bucket is unreachable",
    )
    init = errors.InitializationError("ConfigFileNotFoundError", "user", "no config")
    assert (init.code, init.kind, init.message) == ("ConfigFileNotFoundError", "user", "no config")
    assert errors.CustomError("Quota", "quota exceeded").code == "Quota"
    assert errors.NonRecoverableError("corrupt").code == "NonRecoverableError"
    assert errors.ModuleLoadError("cannot import").kind == "user"
    fault = errors.GPUFaultSystemError("GpuXidError", "Xid 79", fault_kind="xid", fault_code=79)
    assert (fault.kind, fault.xid, fault.sxid) == ("system", 79, None)
    assert isinstance(fault, errors.RuntimeSystemError) and isinstance(fault, errors.GPUFaultError)
    assert errors.APPLE_SILICON_ERRORS_BY_CODE["APPLE_SILICON_NOT_AVAILABLE"] is errors.AppleSiliconNotAvailableError
    validation = errors.RuntimeDataValidationError("x", ValueError("not an int"), "env.t")
    assert (validation.var, validation.task_name) == ("x", "env.t")
    assert "not an int" in str(validation)


def test_errors_survive_pickling_with_their_fields() -> None:
    import pickle

    import flyte.errors as errors

    error = errors.GPUFaultUserError("GpuXidError", "Xid 31", "w", fault_kind="xid", fault_code=31)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.kind, copy.worker, copy.xid, str(copy)) == (
        errors.GPUFaultUserError,
        "GpuXidError",
        "user",
        "w",
        31,
        "Xid 31",
    )


# Members users touch on objects the reference returns, by class.
MEMBERS = {
    "task": ("forward", "pre", "post", "custom_config", "container_args", "native_interface", "aio"),
    "flyte.models.TaskContext": (
        "code_bundle",
        "checkpoint",
        "checkpoint_paths",
        "rank",
        "local_rank",
        "world_size",
        "local_world_size",
        "node_rank",
        "nnodes",
        "master_addr",
        "master_port",
        "restart_attempt",
        "replace",
        "is_in_cluster",
    ),
    "flyte.Image": ("with_local_v2", "from_pixi_script", "with_pixi_project"),
    "flyte.PodTemplate": ("to_k8s_pod", "with_termination_grace_period"),
    "flyte.models.SerializationContext": ("interpreter_path", "get_entrypoint_path"),
}


def _member_owner(key: str) -> Any:
    if key == "task":
        import flyte

        env = flyte.TaskEnvironment(name="surface-members")

        @env.task
        async def probe(x: int) -> int:
            return x

        return probe
    module_name, _, attribute = key.rpartition(".")
    owner = getattr(importlib.import_module(module_name), attribute)
    if key == "flyte.models.TaskContext":
        return {field.name for field in __import__("dataclasses").fields(owner)} | set(dir(owner))
    if key == "flyte.models.SerializationContext":
        return owner(version="v1")
    return owner


@pytest.mark.parametrize("key", sorted(MEMBERS))
def test_members_users_touch_exist(key: str) -> None:
    owner = _member_owner(key)
    if isinstance(owner, set):
        missing = [name for name in MEMBERS[key] if name not in owner]
    else:
        missing = [name for name in MEMBERS[key] if not hasattr(owner, name)]
    assert missing == [], f"{key} lacks {missing}"
