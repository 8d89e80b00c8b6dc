"""Turn an :class:`~flyte.Image` into a Dockerfile and the build context it needs.

The Dockerfile is deterministic for a spec: every file a layer uses is copied into the context
under ``_flyte/`` with a name derived from the layer's position, and Python packages are installed
with ``uv`` (copied from this machine's ``uv`` package, so the image needs no network for it) into
the image's virtualenv ``/opt/venv`` with a cache mount. Host settings a build needs (the CA
bundle, pip configuration, proxies, build secrets) are bind-mounted while a step runs and never
stored in a layer, so they do not change what the image contains.

Flyte's published Debian bases cannot be pulled where there is no registry access; the
``FLYTE_DEBIAN_BASE`` environment variable (or ``base_override``) names a local Debian image with
``python3`` and ``python3-venv`` to build from instead, and this machine's ``flyte`` is installed
into it (what the published base would have carried).

Example:
    >>> from flyte import Image
    >>> plan = render(Image.from_debian_base(python_version=(3, 11)).with_pip_packages("humanize"))
    >>> "uv pip install" in plan.dockerfile
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flyte._image import DEFAULT_IMAGE_REPOSITORY
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
from flyte._image_tag import SLIM_APT, SLIM_BASE, SLIM_ENV, SLIM_LABELS, SLIM_USER_COMMAND, SLIM_WORKDIR, script_header
from flyte._secret import Secret
from flyte.errors import ImageBuildError

if TYPE_CHECKING:
    from flyte._image import Image

__all__ = ["BASE_OVERRIDE_ENV", "BuildPlan", "render", "write_context"]

BASE_OVERRIDE_ENV = "FLYTE_DEBIAN_BASE"
VENV = "/opt/venv"
HOST_DIR = "/run/flyte-host"
_FLYTE_BASE = re.compile(rf"^{re.escape(DEFAULT_IMAGE_REPOSITORY)}:py(\d+)\.(\d+)-v(.+)$")
_UV_CACHE = "--mount=type=cache,target=/root/.cache/uv,sharing=locked"
_APT_CACHE = (
    "--mount=type=cache,target=/var/cache/apt,sharing=locked "
    "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked"
)


@dataclass
class BuildPlan:
    """A Dockerfile and the files its build context must hold (context path -> bytes or a local path)."""

    dockerfile: str
    files: dict[str, bytes | Path] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    """Build secrets by id; their values come from this machine's environment when building."""
    notes: list[str] = field(default_factory=list)
    """What the builder could not do as asked (reported to the user)."""


def _json(args: list[str]) -> str:
    return json.dumps(args)


def _host_mount() -> str:
    return f"--mount=type=bind,source=_flyte/host,target={HOST_DIR},ro"


def _host_env() -> str:
    """Shell assignments that point pip/uv at the bind-mounted host settings."""
    return (
        f"SSL_CERT_FILE={HOST_DIR}/ca.pem REQUESTS_CA_BUNDLE={HOST_DIR}/ca.pem PIP_CERT={HOST_DIR}/ca.pem "
        f"PIP_CONFIG_FILE={HOST_DIR}/pip.conf UV_NATIVE_TLS=0"
    )


class _Renderer:
    def __init__(self, image: Image, base_override: str | None) -> None:
        self.image = image
        self.plan = BuildPlan(dockerfile="")
        self.lines: list[str] = []
        self.base_override = base_override

    # --- helpers ---------------------------------------------------------------------------

    def add_file(self, name: str, source: bytes | Path) -> str:
        path = f"_flyte/{name}"
        self.plan.files[path] = source
        return path

    def secret_mounts(self, secrets: tuple[Secret, ...]) -> tuple[str, str]:
        """RUN mount options and a shell prefix that exports each secret as its env var."""
        mounts, exports = [], []
        for secret in secrets:
            ident = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{secret.group + '_' if secret.group else ''}{secret.key}")
            self.plan.secrets[ident] = secret
            target = f"/run/secrets/{ident}"
            mounts.append(f"--mount=type=secret,id={ident},target={target}")
            exports.append(f'export {secret.env_var}="$(cat {target})";')
        return " ".join(mounts), " ".join(exports)

    def run(self, command: str, *, mounts: str = "", secrets: tuple[Secret, ...] = ()) -> None:
        secret_mounts, exports = self.secret_mounts(secrets)
        options = " ".join(m for m in (mounts, secret_mounts) if m)
        prefix = f"{exports} " if exports else ""
        self.lines.append(f"RUN {options + ' ' if options else ''}{prefix}{command}")

    def uv_install(self, args: list[str], secrets: tuple[Secret, ...] = (), extra_mounts: str = "") -> None:
        command = f"{_host_env()} uv pip install --python {VENV}/bin/python " + " ".join(shlex.quote(a) for a in args)
        mounts = " ".join(m for m in (_UV_CACHE, _host_mount(), extra_mounts) if m)
        self.run(command, mounts=mounts, secrets=secrets)

    # --- base ------------------------------------------------------------------------------

    def base(self) -> None:
        image = self.image
        self.lines.append("# syntax=docker/dockerfile:1")
        self.lines.append(f"# flyte image {image.identifier}")
        if image.dockerfile is not None:
            # A Dockerfile base is built as given (its own context is its folder).
            return
        base = image.base_image or ""
        flyte_base = _FLYTE_BASE.match(base)
        slim_base = SLIM_BASE.match(base) and image.extendable
        substitute = self.base_override if (flyte_base or slim_base) else None
        self.lines.append(f"FROM {substitute or base}")
        self.lines.append("USER root")
        uv = self.add_file("uv", Path(_uv_binary()))
        self.lines.append(f"COPY --chmod=0755 {uv} /usr/local/bin/uv")
        self.lines.append("ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=0")
        if slim_base:
            self.lines.extend(SLIM_LABELS)
            self.run(SLIM_USER_COMMAND)
            self.lines.append(f"WORKDIR {SLIM_WORKDIR}")
            self.apt(SLIM_APT)
        if flyte_base and substitute is None:
            # The published base already has /opt/venv with flyte in it.
            self.lines.append(f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH")
            return
        self.run(f"[ -x {VENV}/bin/python ] || uv venv --python python3 --system-site-packages {VENV}")
        self.lines.append(" ".join(["ENV", *(f"{k}={_env_value(v)}" for k, v in SLIM_ENV)]))
        if flyte_base and substitute is not None:
            # What the published base carries: Python with flyte. Here: this machine's flyte.
            self.plan.notes.append(
                f"built on {substitute} instead of {base} ({BASE_OVERRIDE_ENV}), with this machine's flyte"
            )
            self.local_sdk(())

    def apt(self, packages: tuple[str, ...], secrets: tuple[Secret, ...] = ()) -> None:
        names = " ".join(shlex.quote(p) for p in packages)
        self.run(
            "rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update -q && "
            f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {names}",
            mounts=_APT_CACHE,
            secrets=secrets,
        )

    def local_sdk(self, plugins: tuple[str, ...]) -> None:
        wheels = [_local_wheel("flyte")]
        wheels += [_local_wheel(name) for name in plugins]
        paths = [self.add_file(f"wheels/{w.name}", w) for w in wheels]
        mount = "--mount=type=bind,source=_flyte/wheels,target=/run/flyte-wheels,ro"
        self.uv_install([f"/run/flyte-wheels/{Path(p).name}" for p in paths], extra_mounts=mount)

    # --- layers ----------------------------------------------------------------------------

    def layer(self, index: int, layer: Layer) -> None:
        if isinstance(layer, PipPackages):
            packages, mounts = [], []
            for package in layer.packages:
                local = Path(package)
                if package.endswith((".whl", ".tar.gz", ".zip")) and local.is_file():
                    # A local wheel or sdist: into the context, mounted while the step installs it.
                    path = self.add_file(f"layer{index}/{local.name}", local)
                    target = f"/run/flyte-local/{local.name}"
                    mounts.append(f"--mount=type=bind,source={path},target={target},ro")
                    packages.append(target)
                else:
                    packages.append(package)
            self.uv_install([*pip_args(layer), *packages], layer.secret_mounts, " ".join(mounts))
        elif isinstance(layer, Requirements):
            path = self.add_file(f"layer{index}/requirements.txt", layer.file)
            mount = f"--mount=type=bind,source={path},target=/run/flyte-req/requirements.txt,ro"
            self.uv_install([*pip_args(layer), "-r", "/run/flyte-req/requirements.txt"], layer.secret_mounts, mount)
        elif isinstance(layer, UVScript):
            deps = script_dependencies(layer.script)
            if deps:
                self.uv_install([*pip_args(layer), *deps], layer.secret_mounts)
        elif isinstance(layer, UVProject):
            self.uv_project(index, layer)
        elif isinstance(layer, PoetryProject):
            self.poetry_project(index, layer)
        elif isinstance(layer, (PixiProject, PixiScript)):
            raise ImageBuildError(
                f"{type(layer).__name__} layers are not supported by this image builder; install the "
                "packages with with_pip_packages() or with_uv_project() instead"
            )
        elif isinstance(layer, AptPackages):
            self.apt(layer.packages, layer.secret_mounts)
        elif isinstance(layer, Commands):
            for command in layer.commands:
                self.run(command, mounts=_host_mount(), secrets=layer.secret_mounts)
        elif isinstance(layer, Env):
            self.lines.append(" ".join(["ENV", *(f"{k}={_env_value(v)}" for k, v in layer.env_vars)]))
        elif isinstance(layer, WorkDir):
            self.lines.append(f"WORKDIR {layer.workdir}")
        elif isinstance(layer, CopyConfig):
            name = layer.src.name or "src"
            path = self.add_file(f"layer{index}/{name}", layer.src)
            self.lines.append(f"COPY {_json([path + ('/' if layer.kind == 'folder' else ''), layer.dst])}")
        elif isinstance(layer, DockerIgnore):
            self.plan.files[".dockerignore"] = layer.path
        elif isinstance(layer, LocalSDK):
            self.local_sdk(layer.plugins)
        elif isinstance(layer, CodeBundleLayer):
            self.plan.notes.append("with_code_bundle(): the code ships as a code bundle at run time instead")

    def uv_project(self, index: int, layer: UVProject) -> None:
        project = layer.pyproject.parent
        args = " ".join(shlex.quote(a) for a in pip_args(layer))
        if layer.project_install_mode == "install_project":
            path = self.add_file(f"layer{index}/project", project)
            self.lines.append(f"COPY {_json([path + '/', '/opt/flyte-project/'])}")
            self.run(
                f"cd /opt/flyte-project && {_host_env()} UV_PROJECT_ENVIRONMENT={VENV} uv sync --frozen --inexact "
                f"--no-editable {args}",
                mounts=f"{_UV_CACHE} {_host_mount()}",
                secrets=layer.secret_mounts,
            )
            return
        pyproject = self.add_file(f"layer{index}/pyproject.toml", layer.pyproject)
        mounts = f"--mount=type=bind,source={pyproject},target=/run/flyte-project/pyproject.toml,ro"
        if layer.uvlock is not None and layer.uvlock.exists():
            lock = self.add_file(f"layer{index}/uv.lock", layer.uvlock)
            mounts += f" --mount=type=bind,source={lock},target=/run/flyte-project/uv.lock,ro"
        self.run(
            f"cd /run/flyte-project && {_host_env()} UV_PROJECT_ENVIRONMENT={VENV} uv sync --frozen --inexact "
            f"--no-install-project {args}",
            mounts=f"{_UV_CACHE} {_host_mount()} {mounts}",
            secrets=layer.secret_mounts,
        )

    def poetry_project(self, index: int, layer: PoetryProject) -> None:
        project = self.add_file(f"layer{index}/project", layer.pyproject.parent)
        self.lines.append(f"COPY {_json([project + '/', '/opt/flyte-project/'])}")
        root = "" if layer.project_install_mode == "install_project" else "--no-root"
        extra = layer.extra_args or ""
        self.uv_install(["poetry"])
        self.run(
            f"cd /opt/flyte-project && {_host_env()} VIRTUAL_ENV={VENV} POETRY_VIRTUALENVS_CREATE=false "
            f"{VENV}/bin/poetry install {root} {extra}".rstrip(),
            mounts=_host_mount(),
            secrets=layer.secret_mounts,
        )

    def render(self) -> BuildPlan:
        self.base()
        if self.image.dockerfile is not None:
            self.plan.dockerfile = self.image.dockerfile.read_text(encoding="utf-8")
            return self.plan
        for index, layer in enumerate(self.image.layers):
            self.layer(index, layer)
        self.lines.append("WORKDIR /root" if not any(isinstance(la, WorkDir) for la in self.image.layers) else "")
        self.plan.dockerfile = "\n".join(line for line in self.lines if line) + "\n"
        return self.plan


def pip_args(layer: _PipOptions) -> list[str]:
    """uv/pip options of a layer: index URLs, pre-releases, extra arguments."""
    args: list[str] = []
    if layer.index_url:
        args += ["--index-url", layer.index_url]
    for url in layer.extra_index_urls:
        args += ["--extra-index-url", url]
    if layer.pre:
        args.append("--prerelease=allow")
    if layer.extra_args:
        args += shlex.split(layer.extra_args)
    return args


def _env_value(value: str) -> str:
    """An ENV value; ``$VAR`` references are kept so that PATH-style values expand as in Docker."""
    return json.dumps(value) if re.search(r"[\s\"'\\]", value) else value


def script_dependencies(script: Path) -> list[str]:
    """The ``dependencies`` of a script's PEP 723 ``# /// script`` header."""
    try:
        header = script_header(script.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ImageBuildError(f"{script}: {error}") from error
    dependencies = header.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ImageBuildError(f"{script}: the script header's dependencies must be a list")
    return [str(d) for d in dependencies]


def _uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise ImageBuildError("the uv binary was not found (pip install uv)") from None
        return found


_WHEELS: dict[str, Path] = {}


def _local_wheel(dist: str) -> Path:
    """A wheel of the installed distribution ``dist`` (built from its source tree when editable)."""
    if dist in _WHEELS and _WHEELS[dist].exists():
        return _WHEELS[dist]
    import importlib.metadata
    import tempfile
    from urllib.parse import urlparse

    try:
        distribution = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        raise ImageBuildError(f"{dist} is not installed on this machine, so it cannot be put in the image") from None
    direct = json.loads(distribution.read_text("direct_url.json") or "{}")
    url = direct.get("url", "")
    if url.startswith("file://") and Path(urlparse(url).path).is_dir():
        source = Path(urlparse(url).path)
    else:
        raise ImageBuildError(
            f"{dist} {distribution.version} was not installed from a local source tree; add it with "
            f"with_pip_packages('{dist}=={distribution.version}') instead"
        )
    # One wheel per state of the source tree, with fixed timestamps: the same bytes every time, so
    # the image step that installs it stays cached until the source changes.
    from flyte._image_layers import digest_path

    parts = [
        digest_path(source / "pyproject.toml") or "",
        digest_path(source / "src" if (source / "src").is_dir() else source) or "",
    ]
    key = hashlib.sha256("".join(parts).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flyte" / "wheels" / f"{dist}-{key}"
    wheels = sorted(cache.glob("*.whl"))
    if not wheels:
        cache.parent.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix=f".{dist}-", dir=cache.parent))
        done = subprocess.run(
            [_uv_binary(), "build", "--wheel", "--out-dir", str(out), str(source)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
        if done.returncode != 0 or not list(out.glob("*.whl")):
            shutil.rmtree(out, ignore_errors=True)
            raise ImageBuildError(f"building a wheel of {dist} from {source} failed:\n{done.stderr[-3000:]}")
        try:
            os.rename(out, cache)
        except OSError:  # another build got there first
            shutil.rmtree(out, ignore_errors=True)
        wheels = sorted(cache.glob("*.whl"))
        # Keep the three newest wheels of this distribution.
        for stale in sorted(cache.parent.glob(f"{dist}-*"), key=lambda p: p.stat().st_mtime)[:-3]:
            shutil.rmtree(stale, ignore_errors=True)
    _WHEELS[dist] = wheels[0]
    return wheels[0]


def render(image: Image, *, base_override: str | None = None) -> BuildPlan:
    """The Dockerfile and context files of ``image``.

    Raises:
        ImageBuildError: a layer cannot be built by this builder.
    """
    override = base_override if base_override is not None else os.environ.get(BASE_OVERRIDE_ENV)
    return _Renderer(image, override or None).render()


def _host_files() -> dict[str, bytes]:
    """This machine's CA bundle and pip configuration, for the build steps that fetch packages."""
    files: dict[str, bytes] = {}
    for candidate in (
        os.environ.get("SSL_CERT_FILE"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("PIP_CERT"),
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ):
        if candidate and Path(candidate).is_file():
            files["ca.pem"] = Path(candidate).read_bytes()
            break
    else:
        import certifi  # type: ignore[import-not-found,unused-ignore]

        files["ca.pem"] = Path(certifi.where()).read_bytes()
    # pip settings that make sense inside the image: the index (not local paths or this machine's cert path).
    lines = ["[global]", f"cert = {HOST_DIR}/ca.pem"]
    for key, env in (
        ("index-url", "PIP_INDEX_URL"),
        ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
        ("timeout", "PIP_DEFAULT_TIMEOUT"),
    ):
        value = os.environ.get(env)
        if value and "file:" not in value:
            lines.append(f"{key} = {value}")
    files["pip.conf"] = ("\n".join(lines) + "\n").encode()
    return files


def write_context(plan: BuildPlan, directory: Path) -> Path:
    """Write the Dockerfile and context files into ``directory``; returns the Dockerfile's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in _host_files().items():
        target = directory / "_flyte" / "host" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for name, source in plan.files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        elif source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".venv", ".git"))
        elif source.is_file():
            shutil.copy2(source, target)
        else:
            raise ImageBuildError(f"the image refers to {source}, which does not exist")
    dockerfile = directory / "Dockerfile.flyte"
    dockerfile.write_text(plan.dockerfile, encoding="utf-8")
    return dockerfile
