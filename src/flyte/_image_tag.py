"""The content-hash tag of an :class:`~flyte.Image`, the same as PyPI ``flyte``'s for the same spec.

Flyte 2 tags a built image with the MD5 of a byte string: the base reference (or the Dockerfile's
bytes), then what each layer contributes in order (its options, the names and contents of the files
it reads). This module reproduces that string from our own layer types so that either SDK finds
the other's builds in a registry, and the venv cache (keyed by the same tag) matches the tag in a
task template written by either SDK. The layout was established by observing the reference SDK as a
black box (what it hashes for each kind of layer); ``tests/images/test_tags.py`` pins it against
the reference for every layer kind.

Example:
    >>> from flyte import Image
    >>> image_tag(Image.from_debian_base(python_version=(3, 11)).with_pip_packages("humanize")) != ""
    True
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flyte._image_layers import (
    AptPackages,
    CodeBundleLayer,
    Commands,
    CopyConfig,
    DockerIgnore,
    Env,
    Layer,
    LocalSDK,
    PipPackages,
    PixiProject,
    PixiScript,
    PoetryProject,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
    _PipOptions,
)
from flyte._secret import Secret

if TYPE_CHECKING:
    from flyte._image import Image

__all__ = ["SLIM_BASE", "image_tag", "script_header", "slim_base_preamble"]

SLIM_BASE = re.compile(r"^python:(\d+)\.(\d+)-slim-bookworm$")
"""The slim Python base of ``from_debian_base(install_flyte=False)`` and the script images."""

# What Flyte 2 sets up on a bare Python slim image before any user layer: labels, a ``flyte``
# user, a working directory, a virtualenv at /opt/venv, and build tools. Its parts are part of the
# tag; the builder turns the same steps into Dockerfile lines (see flyte._internal.imagebuild).
SLIM_LABELS = (
    "LABEL org.opencontainers.image.authors='Union.AI <info@union.ai>'",
    "LABEL org.opencontainers.image.source=https://github.com/flyteorg/flyte",
)
SLIM_USER_COMMAND = (
    "if ! id -u flyte >/dev/null 2>&1; then useradd --create-home --shell /bin/bash flyte; fi && "
    "mkdir -p /home/flyte && chown -R flyte:flyte /home/flyte && chown -R flyte:flyte /root"
)
SLIM_WORKDIR = "/home/flyte"
SLIM_ENV = (
    ("VIRTUAL_ENV", "/opt/venv"),
    ("PATH", "/opt/venv/bin:$PATH"),
    ("PYTHONPATH", "/root"),
    ("UV_LINK_MODE", "copy"),
)
SLIM_APT = ("build-essential", "ca-certificates")


def slim_base_preamble() -> bytes:
    """The bytes the slim-base setup contributes to the tag."""
    env = " ".join(f"{k}={v}" for k, v in SLIM_ENV)
    return ("".join(SLIM_LABELS) + SLIM_USER_COMMAND + SLIM_WORKDIR + env + "".join(SLIM_APT)).encode()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        # Specs are also evaluated where their files are absent (inside a built image).
        return b""


def _folder(path: Path) -> Iterator[bytes]:
    """A folder's files: contents then the relative directory parts and name, in walk order."""
    for root, _dirs, files in os.walk(path):
        rel = Path(root).relative_to(path)
        prefix = "".join(part for part in rel.parts if part != ".")
        for name in sorted(files):
            yield _read(Path(root, name))
            yield (prefix + name).encode()


def _secrets(secrets: tuple[Secret, ...]) -> Iterator[bytes]:
    for secret in secrets:
        yield (getattr(secret, "_given_as", None) or repr(secret)).encode()


def _pip_options(layer: _PipOptions) -> Iterator[bytes]:
    if layer.index_url:
        yield layer.index_url.encode()
    for url in layer.extra_index_urls:
        yield url.encode()
    if layer.pre:
        yield b"True"
    if layer.extra_args:
        yield layer.extra_args.encode()
    yield from _secrets(layer.secret_mounts)


def script_header(text: str) -> dict[str, object]:
    """The TOML of a PEP 723 ``# /// script`` header ({} without one).

    Raises:
        ValueError: the header is not valid TOML.
    """
    import tomllib

    header = re.search(r"^# /// script\s*$(.*?)^# ///\s*$", text, re.MULTILINE | re.DOTALL)
    if header is None:
        return {}
    body = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in header.group(1).splitlines())
    try:
        return tomllib.loads(body)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"the '# /// script' header is not valid TOML: {error}") from error


def _script_metadata(script: Path) -> bytes:
    """The PEP 723 header of a script, rendered as the reference renders its parsed metadata."""
    try:
        data = script_header(_read(script).decode(errors="replace"))
    except ValueError:
        data = {}
    requires = data.get("requires-python")
    deps = list(data.get("dependencies") or [])  # type: ignore[call-overload]
    tool = data.get("tool")
    return (
        f"(UVScriptMetadata(requires_python={requires!r}, dependencies={deps!r}, pyprojects=[], tool={tool!r}),)"
    ).encode()


def _layer_bytes(layer: Layer) -> Iterator[bytes]:
    if isinstance(layer, PipPackages):
        yield from _pip_options(layer)
        yield from (p.encode() for p in layer.packages)
    elif isinstance(layer, Requirements):
        yield from _pip_options(layer)
        yield _read(layer.file)
    elif isinstance(layer, UVProject):
        yield from _pip_options(layer)
        if layer.project_install_mode == "install_project":
            yield from _folder(layer.pyproject.parent)
        else:
            yield _read(layer.uvlock) if layer.uvlock is not None else b""
            yield _read(layer.pyproject)
    elif isinstance(layer, UVScript):
        yield _script_metadata(layer.script)
        yield from _pip_options(layer)
    elif isinstance(layer, PoetryProject):
        if layer.extra_args:
            yield layer.extra_args.encode()
        yield from _secrets(layer.secret_mounts)
        if layer.project_install_mode == "install_project":
            yield from _folder(layer.pyproject.parent)
        else:
            yield _read(layer.poetry_lock) if layer.poetry_lock is not None else b""
            yield _read(layer.pyproject)
    elif isinstance(layer, PixiProject):
        yield layer.environment.encode()
        if layer.extra_args:
            yield layer.extra_args.encode()
        yield from _secrets(layer.secret_mounts)
        if layer.project_install_mode == "install_project":
            yield from _folder(layer.manifest.parent)
        else:
            yield _read(layer.pixi_lock) if layer.pixi_lock is not None else b""
            yield _read(layer.manifest)
    elif isinstance(layer, PixiScript):
        yield _read(layer.script)
        yield layer.environment.encode()
        if layer.extra_args:
            yield layer.extra_args.encode()
    elif isinstance(layer, AptPackages):
        yield from (p.encode() for p in layer.packages)
        yield from _secrets(layer.secret_mounts)
    elif isinstance(layer, Commands):
        yield from (c.encode() for c in layer.commands)
        yield from _secrets(layer.secret_mounts)
    elif isinstance(layer, Env):
        yield " ".join(f"{k}={v}" for k, v in layer.env_vars).encode()
    elif isinstance(layer, WorkDir):
        yield layer.workdir.encode()
    elif isinstance(layer, CopyConfig):
        if layer.kind == "folder" or layer.src.is_dir():
            yield from _folder(layer.src)
        else:
            yield _read(layer.src)
            yield layer.src.name.encode()
        yield layer.dst.encode()
    elif isinstance(layer, DockerIgnore):
        yield _read(layer.path)
    elif isinstance(layer, (LocalSDK, CodeBundleLayer)):
        # The reference leaves the local SDK out of the tag; a code bundle's files are added by the builder.
        return


def image_tag(image: Image) -> str:
    """The 32-hex-digit content tag of ``image`` (MD5, as Flyte 2 computes it)."""
    digest = hashlib.md5(usedforsecurity=False)
    if image.dockerfile is not None:
        digest.update(_read(image.dockerfile))
    else:
        digest.update((image.base_image or "").encode())
        if image.base_image and SLIM_BASE.match(image.base_image) and image.extendable:
            digest.update(slim_base_preamble())
    for layer in image.layers:
        for chunk in _layer_bytes(layer):
            digest.update(chunk)
    return digest.hexdigest()
