"""The layers of an :class:`~flyte.Image`: each is one immutable build step.

Layers are plain data; the image builder decides how to turn each into Dockerfile lines. A
layer's :meth:`~Layer.fingerprint` includes the content hash of the local files it uses, so the
image tag changes when those files change.

Example:
    >>> PipPackages(packages=("numpy",)).fingerprint()["packages"]
    ['numpy']
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flyte._secret import Secret

__all__ = [
    "AptPackages",
    "Architecture",
    "CodeBundleLayer",
    "Commands",
    "CopyConfig",
    "DockerIgnore",
    "Env",
    "Layer",
    "PipPackages",
    "PoetryProject",
    "ProjectInstallMode",
    "Requirements",
    "UVProject",
    "UVScript",
    "WorkDir",
    "canonical",
]

Architecture = Literal["linux/amd64", "linux/arm64"]
ProjectInstallMode = Literal["dependencies_only", "install_project"]

_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def digest_path(path: Path) -> str | None:
    """A content hash of a file or a folder (names and bytes), or None when it does not exist here.

    A missing file is not an error: image specs are also evaluated inside the built container,
    where the files they were built from are usually absent.
    """
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    if not path.is_dir():
        return None
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            full = Path(root, name)
            digest.update(full.relative_to(path).as_posix().encode() + b"\x00")
            digest.update(full.read_bytes() + b"\x00")
    return digest.hexdigest()


def canonical(value: Any) -> Any:
    if isinstance(value, Path):
        return {"path": value.as_posix(), "sha256": digest_path(value)}
    if isinstance(value, Secret):
        return {"secret": value.stable_hash()}
    if isinstance(value, (tuple, list)):
        return [canonical(item) for item in value]
    if isinstance(value, Layer):
        return value.fingerprint()
    return value


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One step added on top of an image's base; subclasses describe what the step does."""

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description of the layer, including the content hash of the files it uses.

        Example:
            >>> WorkDir(workdir="/app").fingerprint()
            {'layer': 'WorkDir', 'workdir': '/app'}
        """
        data: dict[str, Any] = {"layer": type(self).__name__}
        for f in dataclasses.fields(self):
            data[f.name] = canonical(getattr(self, f.name))
        return data


@dataclass(frozen=True, kw_only=True)
class _PipOptions(Layer):
    index_url: str | None = None
    """The package index to install from instead of PyPI."""
    extra_index_urls: tuple[str, ...] = ()
    """Further package indexes to search."""
    pre: bool = False
    """Allow pre-release versions."""
    extra_args: str | None = None
    """Extra arguments passed verbatim to the installer."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the layer is built (for private indexes)."""


@dataclass(frozen=True, kw_only=True)
class PipPackages(_PipOptions):
    """Install Python packages with pip (or uv)."""

    packages: tuple[str, ...] = ()
    """Requirement specifiers such as ``"numpy>=2"``."""


@dataclass(frozen=True, kw_only=True)
class Requirements(_PipOptions):
    """Install the packages listed in a ``requirements.txt`` file."""

    file: Path
    """The requirements file."""


@dataclass(frozen=True, kw_only=True)
class UVProject(_PipOptions):
    """Install a uv project's dependencies (and optionally the project) from its lock file."""

    pyproject: Path
    """The project's ``pyproject.toml``."""
    uvlock: Path | None = None
    """The ``uv.lock`` file; next to ``pyproject.toml`` by default."""
    project_install_mode: ProjectInstallMode = "dependencies_only"
    """Install only the dependencies, or the project itself too."""


@dataclass(frozen=True, kw_only=True)
class UVScript(_PipOptions):
    """Install the dependencies declared inline in a script (PEP 723 ``# /// script`` block)."""

    script: Path
    """The script whose header lists its dependencies."""


@dataclass(frozen=True, kw_only=True)
class PoetryProject(Layer):
    """Install a Poetry project's dependencies (and optionally the project)."""

    pyproject: Path
    """The project's ``pyproject.toml``."""
    poetry_lock: Path | None = None
    """The ``poetry.lock`` file; next to ``pyproject.toml`` by default."""
    extra_args: str | None = None
    """Extra arguments passed verbatim to ``poetry install``."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the layer is built."""
    project_install_mode: ProjectInstallMode = "dependencies_only"
    """Install only the dependencies, or the project itself too."""


@dataclass(frozen=True, kw_only=True)
class AptPackages(Layer):
    """Install Debian packages with apt."""

    packages: tuple[str, ...]
    """Package names such as ``"git"``."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the layer is built."""


@dataclass(frozen=True, kw_only=True)
class Commands(Layer):
    """Run shell commands (one ``RUN`` step each)."""

    commands: tuple[str, ...]
    """The commands, run in order."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the commands run."""


@dataclass(frozen=True, kw_only=True)
class Env(Layer):
    """Set environment variables in the image."""

    env_vars: tuple[tuple[str, str], ...]
    """``(name, value)`` pairs, in the order given."""


@dataclass(frozen=True, kw_only=True)
class WorkDir(Layer):
    """Set the working directory of later steps and of the container."""

    workdir: str
    """The directory, for example ``"/app"``."""


@dataclass(frozen=True, kw_only=True)
class CopyConfig(Layer):
    """Copy a local file or folder into the image."""

    src: Path
    """The local file or folder."""
    dst: str = "."
    """Where to put it, relative to the working directory unless absolute."""
    kind: Literal["file", "folder"] = "file"
    """Whether ``src`` is a file or a folder."""


@dataclass(frozen=True, kw_only=True)
class DockerIgnore(Layer):
    """Use a ``.dockerignore`` file to filter what later copy steps send to the builder."""

    path: Path
    """The ``.dockerignore`` file."""


@dataclass(frozen=True, kw_only=True)
class CodeBundleLayer(Layer):
    """Bake the task code into the image instead of shipping it as a code bundle at run time."""

    copy_style: Literal["loaded_modules", "all"] = "loaded_modules"
    """Copy only the modules that were imported, or the whole project."""
    dst: str = "."
    """Where to put the code in the image."""


@dataclass(frozen=True, kw_only=True)
class PixiScript(Layer):
    """Install the conda and PyPI packages a script declares in its PEP 723 header, with pixi."""

    script: Path
    """The script whose ``# /// script`` header (with ``[tool.pixi.*]`` tables) lists its dependencies."""
    environment: str = "default"
    """The pixi environment to install."""
    extra_args: str | None = None
    """Extra arguments passed verbatim to ``pixi install``."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the layer is built."""


@dataclass(frozen=True, kw_only=True)
class PixiProject(Layer):
    """Install a pixi project (``pixi.toml``, or ``pyproject.toml`` with ``[tool.pixi]``) from its lock file."""

    manifest: Path
    """The project's manifest file."""
    pixi_lock: Path | None = None
    """The ``pixi.lock`` file, when the project has one."""
    environment: str = "default"
    """The pixi environment that becomes the image's runtime environment."""
    extra_args: str | None = None
    """Extra arguments passed verbatim to ``pixi install``."""
    secret_mounts: tuple[Secret, ...] = ()
    """Secrets available while the layer is built."""
    project_install_mode: ProjectInstallMode = "dependencies_only"
    """Install only the dependencies, or the project itself too."""


@dataclass(frozen=True, kw_only=True)
class LocalSDK(Layer):
    """Install the ``flyte`` distribution of the machine that builds the image (to try SDK changes)."""

    plugins: tuple[str, ...] = ()
    """Plugin distributions installed from the same machine as well."""
