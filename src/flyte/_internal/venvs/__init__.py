"""Images as virtualenvs: an Image's Python layers materialised with ``uv`` where no container runs.

The local executor of ``flyte start server`` (and ``flyte run --local``) has no container
runtime, so a task's :class:`~flyte.Image` is approximated by a virtualenv: its pip packages,
requirements files, uv projects and scripts are installed with ``uv`` into a venv keyed by the
image's content tag (the same tag a container build gets) and the worker Python. The venv sees
the worker environment's packages after its own (a ``.pth`` file adds the worker's
site-packages), so the Flyte runtime is there and the image's packages win.

Layers that need a container (apt packages, commands, Dockerfile bases, copied files, pixi and
poetry projects) cannot be reproduced; they are listed in :attr:`VenvPlan.skipped` so the caller
reports them, or refuses with ``strict``.

Builds are safe to run concurrently (a file lock per key) and atomic (a temporary directory
renamed into place when complete); a finished venv is reused without any work.

Example:
    >>> from flyte import Image
    >>> plan = plan_venv(Image.from_debian_base(python_version=(3, 11)).with_pip_packages("humanize"))
    >>> plan.steps[0][:3], plan.skipped
    (['pip', 'install', '--python'], [])
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flyte._image_layers import (
    AptPackages,
    CodeBundleLayer,
    Commands,
    CopyConfig,
    DockerIgnore,
    Env,
    LocalSDK,
    PipPackages,
    PixiProject,
    PixiScript,
    PoetryProject,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
)
from flyte.errors import ImageBuildError

if TYPE_CHECKING:
    from flyte._image import Image

__all__ = [
    "CACHE_ENV",
    "LOCAL_ENV",
    "STRICT_ENV",
    "VenvPlan",
    "default_cache_dir",
    "materialize",
    "plan_venv",
    "use_in_process",
]

CACHE_ENV = "FLYTE_VENV_CACHE"
"""Where image venvs are kept (default ``~/.cache/flyte/venvs``)."""
STRICT_ENV = "FLYTE_STRICT_IMAGES"
"""``1``: refuse images with layers that need a container instead of running in the nearest venv."""
_READY = ".flyte-image-ready"
_PYTHON = "{python}"


@dataclass
class VenvPlan:
    """How an image becomes a venv: ``uv`` argument lists (``{python}`` stands for the venv's Python)."""

    tag: str
    python_version: tuple[int, int]
    steps: list[list[str]] = field(default_factory=list)
    cwd: list[Path | None] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the image sets (applied when running in the venv)."""
    skipped: list[str] = field(default_factory=list)
    """Layers that need a container, in words."""

    @property
    def needed(self) -> bool:
        """Whether there is anything to install."""
        return bool(self.steps)


def plan_venv(image: Image) -> VenvPlan:
    """What of ``image`` a venv can hold, and what it cannot.

    Example:
        >>> from flyte import Image
        >>> plan_venv(Image.from_debian_base().with_apt_packages("git")).skipped
        ["apt packages 'git'"]
    """
    from flyte._internal.imagebuild.dockerfile import pip_args as _pip_args
    from flyte._internal.imagebuild.dockerfile import script_dependencies

    plan = VenvPlan(tag=image.identifier, python_version=image.python_version)
    install = ["pip", "install", "--python", _PYTHON]

    def step(args: list[str], cwd: Path | None = None) -> None:
        plan.steps.append(args)
        plan.cwd.append(cwd)

    if image.dockerfile is not None:
        plan.skipped.append(f"the Dockerfile base {image.dockerfile}")
    for layer in image.layers:
        if isinstance(layer, PipPackages):
            step([*install, *_pip_args(layer), *layer.packages])
        elif isinstance(layer, Requirements):
            if layer.file.is_file():
                step([*install, *_pip_args(layer), "-r", str(layer.file.resolve())])
            else:
                plan.skipped.append(f"requirements file {layer.file} (not found here)")
        elif isinstance(layer, UVScript):
            if layer.script.is_file():
                deps = script_dependencies(layer.script)
                if deps:
                    step([*install, *_pip_args(layer), *deps])
            else:
                plan.skipped.append(f"uv script {layer.script} (not found here)")
        elif isinstance(layer, UVProject):
            project = layer.pyproject.parent.resolve()
            if layer.pyproject.is_file():
                only_deps = ["--no-install-project"] if layer.project_install_mode == "dependencies_only" else []
                frozen = ["--frozen"] if layer.uvlock is not None and layer.uvlock.is_file() else []
                step(["sync", "--inexact", *frozen, *only_deps, *_pip_args(layer)], project)
            else:
                plan.skipped.append(f"uv project {layer.pyproject} (not found here)")
        elif isinstance(layer, Env):
            plan.env.update(dict(layer.env_vars))
        elif isinstance(layer, AptPackages):
            plan.skipped.append("apt packages " + ", ".join(repr(p) for p in layer.packages))
        elif isinstance(layer, Commands):
            plan.skipped.append("commands " + "; ".join(repr(c) for c in layer.commands))
        elif isinstance(layer, CopyConfig):
            plan.skipped.append(f"copying {layer.src} to {layer.dst}")
        elif isinstance(layer, (PoetryProject, PixiProject, PixiScript)):
            plan.skipped.append(f"a {type(layer).__name__} layer")
        elif isinstance(layer, (LocalSDK, WorkDir, DockerIgnore, CodeBundleLayer)):
            continue  # the worker's flyte is visible; the rest changes nothing a venv can hold
    return plan


def default_cache_dir() -> Path:
    """``$FLYTE_VENV_CACHE``, else ``~/.cache/flyte/venvs``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flyte" / "venvs"


def _uv() -> str:
    from flyte._internal.imagebuild.dockerfile import _uv_binary

    return _uv_binary()


def _site_dirs(base_python: str) -> list[str]:
    """The worker environment's site-packages (purelib and platlib), in order."""
    out = subprocess.run(
        [
            base_python,
            "-c",
            "import json, sysconfig; print(json.dumps([sysconfig.get_path(n) for n in ('purelib', 'platlib')]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(dict.fromkeys(json.loads(out.stdout)))


def check_python(plan: VenvPlan, base_python: str) -> None:
    """Name a Python version the worker's Python cannot give (the venv shares the worker's runtime)."""
    have = _python_version(base_python) if base_python != sys.executable else sys.version_info[:2]
    if tuple(plan.python_version) != tuple(have):
        wanted = ".".join(map(str, plan.python_version))
        plan.skipped.append(f"Python {wanted} (runs on the worker's Python {have[0]}.{have[1]})")


def _python_version(base_python: str) -> tuple[int, int]:
    out = subprocess.run(
        [base_python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
        capture_output=True,
        text=True,
        check=True,
    )
    major, minor = out.stdout.split()
    return int(major), int(minor)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def venv_key(tag: str, base_python: str) -> str:
    """The cache key of an image's venv: its tag and the worker Python it is built on."""
    return f"{tag}-{hashlib.sha256(os.path.abspath(base_python).encode()).hexdigest()[:10]}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def materialize(plan: VenvPlan, *, base_python: str | None = None, cache_dir: Path | None = None) -> Path:
    """The venv of ``plan`` on top of ``base_python`` (built once, then reused); returns its directory.

    Raises:
        ImageBuildError: uv failed (its output in the message).
    """
    base = base_python or sys.executable
    cache = cache_dir or default_cache_dir()
    key = venv_key(plan.tag, base)
    final = cache / key
    if (final / _READY).exists():
        return final
    with _locked(cache / f"{key}.lock"):
        if (final / _READY).exists():
            return final
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache))
        try:
            _build(plan, base, tmp)
            if final.exists():  # a half-made venv of a crashed build (no ready mark)
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _run_uv(args: list[str], cwd: Path | None, env: dict[str, str], what: str) -> None:
    done = subprocess.run([_uv(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        output = "\n".join(line for line in lines if not line.startswith("Using Python "))
        if len(output) > 6000:
            output = "...\n" + output[-6000:]
        raise ImageBuildError(f"{what} failed (uv exit {done.returncode}):\n{output}")


def _build(plan: VenvPlan, base: str, venv: Path) -> None:
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"))}
    env.update({"UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": env.get("UV_LINK_MODE", "copy")})
    _run_uv(
        ["venv", "--quiet", "--relocatable", "--allow-existing", "--python", base, str(venv)],
        None,
        env,
        "creating the image's virtualenv",
    )
    python = str(venv_python(venv))
    for args, cwd in zip(plan.steps, plan.cwd, strict=True):
        args = [python if a == _PYTHON else a for a in args]
        step_env = dict(env)
        if args[0] == "sync":
            step_env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        _run_uv(args, cwd, step_env, "installing the image's packages (uv " + " ".join(args[:2]) + ")")
    # The worker environment after the venv's own packages: the Flyte runtime and its dependencies.
    site = next(venv.glob("lib/python*/site-packages"))
    lines = [f"import site; site.addsitedir({d!r})" for d in _site_dirs(base)]
    (site / "_flyte_worker_env.pth").write_text("\n".join(lines) + "\n")
    meta = {"tag": plan.tag, "seconds": round(time.monotonic() - started, 2), "skipped": plan.skipped, "env": plan.env}
    (venv / _READY).write_text(json.dumps(meta))


_ACTIVE: set[str] = set()
LOCAL_ENV = "FLYTE_LOCAL_IMAGE_VENVS"
"""``1``: local runs (``flyte run --local`` sets it) put a task's image packages on ``sys.path``."""


def _satisfied(requirement: str) -> bool:
    """Whether this environment already has a distribution that meets ``requirement``."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
        version = importlib.metadata.version(req.name)
    except (InvalidRequirement, importlib.metadata.PackageNotFoundError):
        return False
    return not req.specifier or req.specifier.contains(version, prereleases=True)


def use_in_process(image: object) -> None:
    """Local runs: make ``image``'s Python packages importable in this process (once per image).

    Packages this environment already satisfies are not installed again; the rest go into the
    image's venv (built or reused as for the server), whose site-packages is put first on
    ``sys.path``. Layers a venv cannot hold are reported once (``FLYTE_STRICT_IMAGES=1``: refused).

    Raises:
        ImageBuildError: the packages could not be installed, or strict mode refused the image.
    """
    from flyte._image import Image

    if not isinstance(image, Image) or image.identifier in _ACTIVE:
        return
    plan = plan_venv(image)
    check_python(plan, sys.executable)
    plan.tag += "-inproc"  # may leave out packages this process has: not the server's venv of the tag
    kept = [
        (s, c)
        for s, c in zip(plan.steps, plan.cwd, strict=True)
        if not (s[:2] == ["pip", "install"] and _all_satisfied(s))
    ]
    plan.steps, plan.cwd = [s for s, _ in kept], [c for _, c in kept]
    if plan.skipped:
        what = "; ".join(plan.skipped)
        if os.environ.get(STRICT_ENV, "") not in ("", "0", "false"):
            raise ImageBuildError(f"image {image.uri} needs a container for: {what} ({STRICT_ENV} is set)")
        print(f"[flyte] image {image.uri}: not reproduced without a container: {what}", file=sys.stderr)
    if plan.steps:
        venv = materialize(plan)
        site = next(venv.glob("lib/python*/site-packages"))
        sys.path.insert(0, str(site))
    os.environ.update(plan.env)
    _ACTIVE.add(image.identifier)


def _all_satisfied(step: list[str]) -> bool:
    args = step[4:]  # after "pip install --python {python}"
    if any(a.startswith("-") for a in args):
        return False
    return bool(args) and all(_satisfied(a) for a in args)
