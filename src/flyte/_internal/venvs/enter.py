"""Run an attempt of the local executor in its image's virtualenv (see :mod:`flyte._internal.venvs`).

The server does not know an image's layers, only its URI; the task's code does. So an attempt
whose image is a built one (its tag is a content hash) starts as::

    <server python> -m flyte._internal.venvs.enter --image URI --worker-python PY --cache DIR [--strict] -- a0 ...

which runs as the attempt (its user, environment and working directory), and:

1. finds a ready venv for the tag and that worker Python, or else loads the task from its code
   bundle (a module import that fails on a package the image provides is retried with a stand-in
   for that package), reads its image and materialises the venv;
2. replaces itself with the attempt's command run by the venv's Python.

Layers a venv cannot hold are reported once per attempt on stderr (the task log); with
``--strict`` the attempt fails instead. A failed build fails the attempt with uv's output as the
error message (``error.pb``), so the run fails fast.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flyte._internal.venvs import _READY, VenvPlan, check_python, materialize, plan_venv, venv_key
from flyte.errors import ImageBuildError

__all__ = ["load_task_image", "main", "wrap_command"]

_HASH_TAG = re.compile(r":([0-9a-f]{32})$")
_PLAIN = ".plain"


def _key_prefix(tag: str, worker_python: str) -> str:
    return venv_key(tag, worker_python)


def wrap_command(
    argv: list[str], *, image: str, worker_python: str, server_python: str, cache_dir: Path, strict: bool = False
) -> list[str] | None:
    """The attempt's command run through this module, or ``None`` when the image needs no venv.

    ``None`` for published images (no content tag) and for images already known to hold no Python
    layers, so those keep the warm-worker path.
    """
    match = _HASH_TAG.search(image or "")
    if match is None:
        return None
    if (cache_dir / (_key_prefix(match.group(1), worker_python) + _PLAIN)).exists() and not strict:
        return None
    return [
        server_python,
        str(Path(__file__).with_name("_fast_enter.py")),
        "--image",
        image,
        "--worker-python",
        worker_python,
        "--cache",
        str(cache_dir),
        *(["--strict"] if strict else []),
        "--",
        *argv,
    ]


class _Stand_in(types.ModuleType):
    """A module the image would provide, standing in while the task's module is imported for its image."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _Anything:
    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    def __getattr__(self, name: str) -> _Anything:
        return self


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _Stand_in(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def load_task_image(argv: Sequence[str]) -> Any:
    """The task's image (an Image, a URI string or ``None``), loading the task as ``a0`` would.

    ``argv`` is the attempt's ``a0`` arguments (without ``a0``), run in the attempt's working
    directory and environment; packages the module imports that are missing here are stood in for.
    Executors that need an image's spec (not only its URI) use this.
    """
    from flyte._internal.runtime.entrypoint import options_from_args
    from flyte._internal.runtime.taskrunner import _load_task_uncached

    options = options_from_args(list(argv), os.environ)
    finder = _StandInFinder()
    sys.meta_path.append(finder)
    try:
        for _ in range(50):
            try:
                task = asyncio.run(_load_task_uncached(options))
                break
            except ModuleNotFoundError as error:
                missing = (error.name or "").split(".")[0]
                if not missing or missing in finder.names:
                    raise
                finder.names.add(missing)
            except Exception as error:  # the module load wraps the import error
                cause = error.__cause__ or error.__context__
                missing = (getattr(cause, "name", None) or "").split(".")[0]
                if not isinstance(cause, ModuleNotFoundError) or not missing or missing in finder.names:
                    raise
                finder.names.add(missing)
        else:
            raise ImageBuildError("the task's module imports too many packages that are not installed here")
    finally:
        sys.meta_path.remove(finder)
    image = getattr(task, "image", None)
    if image is None or isinstance(image, str):
        parent_env = getattr(task, "parent_env", None)
        env = parent_env() if callable(parent_env) else None
        image = getattr(env, "image", None)
    return image


def _fail(argv: Sequence[str], error: BaseException) -> int:
    """Record ``error`` as the attempt's failure (``error.pb``), as the runtime would."""
    from flyte._internal.runtime.entrypoint import options_from_args
    from flyte._internal.runtime.taskrunner import write_error

    print(f"[flyte] {error}", file=sys.stderr, flush=True)
    try:
        asyncio.run(write_error(options_from_args(list(argv), os.environ), error))
    except Exception as failure:
        print(f"[flyte] could not record the failure: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


def _report(skipped: list[str], image: str, strict: bool) -> None:
    if not skipped:
        return
    what = "; ".join(skipped)
    if strict:
        raise ImageBuildError(
            f"image {image} needs a container for: {what} "
            "(this server runs tasks in virtualenvs; --strict-images is set)"
        )
    print(
        f"[flyte] image {image}: running in a virtualenv with its Python packages; not reproduced without a "
        f"container: {what}",
        file=sys.stderr,
        flush=True,
    )


def _exec(venv: Path, command: list[str], env: dict[str, str]) -> None:
    python = str(venv / "bin" / "python")
    target = command[0]
    # ``a0`` (a console script of the worker environment) and ``python`` run under the venv's Python.
    if os.path.basename(target) in ("python", "python3") or target.endswith(("/python", "/python3")):
        argv = [python, *command[1:]]
    else:
        argv = [python, target, *command[1:]]
    merged = {**os.environ, **env, "VIRTUAL_ENV": str(venv)}
    merged["PATH"] = os.pathsep.join([str(venv / "bin"), merged.get("PATH", "")])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, argv, merged)


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flyte-venv-enter")
    parser.add_argument("--image", required=True)
    parser.add_argument("--worker-python", required=True)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    command = list(ns.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("no command after --")
    runtime_args = command[1:]
    found = _HASH_TAG.search(ns.image)
    tag = found.group(1) if found else ""
    cache: Path = ns.cache
    prefix = _key_prefix(tag, ns.worker_python)
    try:
        ready = cache / prefix / _READY
        if ready.exists():
            meta = json.loads(ready.read_text() or "{}")
            _report(meta.get("skipped", []), ns.image, ns.strict)
            _exec(cache / prefix, command, meta.get("env", {}))
        try:
            image = load_task_image(runtime_args)
        except Exception as error:
            print(
                f"[flyte] could not read the task's image ({error}); running in the worker environment",
                file=sys.stderr,
                flush=True,
            )
            os.execv(command[0], command)
        from flyte._image import Image

        if not isinstance(image, Image):
            os.execv(command[0], command)
        plan: VenvPlan = plan_venv(image)
        plan.tag = tag or plan.tag
        check_python(plan, ns.worker_python)
        _report(plan.skipped, ns.image, ns.strict)
        if not plan.needed and not plan.env:
            cache.mkdir(parents=True, exist_ok=True)
            (cache / (prefix + _PLAIN)).touch()
            os.execv(command[0], command)
        venv = materialize(plan, base_python=ns.worker_python, cache_dir=cache)
        _exec(venv, command, plan.env)
    except ImageBuildError as error:
        return _fail(runtime_args, error)
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
