"""Build images: check whether a registry already has the tag, else build locally and push.

:class:`ImageBuildEngine` picks a builder (``image.builder``: ``local`` or ``local-podman``; the
local builder uses the first of podman, docker and buildah that works here), asks the builder's
checkers whether the image exists, and builds when it does not. A failed build raises
:class:`~flyte.errors.ImageBuildError` whose message is the builder's own output, in one block.

Example:
    >>> LocalImageBuilder.tool_names()
    ('podman', 'docker', 'buildah')
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from flyte._image_layers import Architecture
from flyte._internal.imagebuild.dockerfile import render, write_context
from flyte.errors import ImageBuildError

if TYPE_CHECKING:
    from flyte._build import ImageBuild
    from flyte._image import Image

__all__ = [
    "BUILD_PROGRESS",
    "ContainerTool",
    "ImageBuildEngine",
    "ImageBuilder",
    "ImageChecker",
    "LocalImageBuilder",
    "LocalStoreChecker",
    "RegistryChecker",
    "find_container_tool",
    "split_reference",
]

_OUTPUT_LIMIT = 6000

BUILD_PROGRESS: contextvars.ContextVar[Callable[[str, int, int, str], None] | None] = contextvars.ContextVar(
    "flyte_build_progress", default=None
)
"""A callback ``(image, step, steps, the step's line)`` for local builds (the CLI's progress bars).

While one is set, the builder's output is read line by line as it comes instead of at the end.
"""

# "STEP 3/7: RUN ..." (podman, buildah) and "#7 [3/7] RUN ..." or "#7 [stage 3/7] ..." (docker BuildKit).
_STEP_LINE = re.compile(r"^(?:STEP (\d+)/(\d+): |#\d+ \[(?:[\w.-]+ )?(\d+)/(\d+)\] )(.*)$")


def parse_step(line: str) -> tuple[int, int, str] | None:
    """``(step, steps, what)`` of a builder's output line that starts a build step, else ``None``.

    Example:
        >>> parse_step("STEP 2/5: RUN pip install humanize")
        (2, 5, 'RUN pip install humanize')
        >>> parse_step("#6 [2/4] RUN true")
        (2, 4, 'RUN true')
        >>> parse_step("Collecting humanize") is None
        True
    """
    match = _STEP_LINE.match(line.strip())
    if match is None:
        return None
    step, steps = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return int(step), int(steps), match.group(5)


_OPENER = urllib.request.build_opener()


def split_reference(uri: str) -> tuple[str | None, str, str]:
    """``(registry or None, repository, tag)`` of ``registry/name:tag``.

    Example:
        >>> split_reference("localhost:5000/app:abc")
        ('localhost:5000', 'app', 'abc')
    """
    name, _, tag = uri.rpartition(":") if ":" in uri.rsplit("/", 1)[-1] else (uri, "", "latest")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return None, name, tag


def _is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 or "]" in registry else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@runtime_checkable
class ImageChecker(Protocol):
    """Says whether an image already exists somewhere (a registry, the local image store)."""

    @classmethod
    async def image_exists(
        cls, repository: str, tag: str, arch: tuple[Architecture, ...] = ("linux/amd64",)
    ) -> str | None:
        """The image's full reference when it exists, ``None`` when it does not.

        Raises:
            Exception: the checker cannot tell (the engine then asks the next checker).
        """
        ...


class RegistryChecker:
    """Asks the registry over its HTTP API (``/v2/<name>/manifests/<tag>``); anonymous access."""

    @classmethod
    async def image_exists(
        cls, repository: str, tag: str, arch: tuple[Architecture, ...] = ("linux/amd64",)
    ) -> str | None:
        registry, name, _ = split_reference(f"{repository}:{tag}")
        if registry is None:
            raise LookupError(f"{repository} names no registry")
        loopback = _is_loopback(registry)
        schemes = ("http", "https") if loopback else ("https",)
        accept = ", ".join(
            [
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            ]
        )
        last: Exception | None = None
        for scheme in schemes:
            request = urllib.request.Request(
                f"{scheme}://{registry}/v2/{name}/manifests/{tag}", method="HEAD", headers={"Accept": accept}
            )
            try:
                # A loopback registry is asked directly, never through a configured proxy.
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else _OPENER
                await asyncio.to_thread(opener.open, request, timeout=10)
                return f"{repository}:{tag}"
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                last = error
            except (urllib.error.URLError, OSError) as error:
                last = error
        raise LookupError(f"cannot ask {registry}: {last}")


class LocalStoreChecker:
    """Looks in the local image store of the container tool (for images without a registry)."""

    @classmethod
    async def image_exists(
        cls, repository: str, tag: str, arch: tuple[Architecture, ...] = ("linux/amd64",)
    ) -> str | None:
        tool = find_container_tool()
        if tool is None:
            raise LookupError("no container tool")
        ref = f"{repository}:{tag}"
        return ref if await asyncio.to_thread(tool.image_exists, ref) else None


@runtime_checkable
class ImageBuilder(Protocol):
    """Builds an image (and pushes it when it has a registry)."""

    def get_checkers(self) -> list[type[ImageChecker]] | None:
        """Checkers asked, in order, whether the image exists before building it."""
        ...

    async def build_image(self, image: Image, dry_run: bool, wait: bool = True, force: bool = False) -> ImageBuild:
        """Build ``image``; with ``dry_run`` only render what would be built."""
        ...


@dataclass(frozen=True)
class ContainerTool:
    """podman, docker or buildah on this machine."""

    name: str
    path: str

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def run(self, args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.path, *args], capture_output=True, text=True, env=self.env(), timeout=timeout, check=False
        )

    def stream(self, args: list[str], on_line: Callable[[str], None]) -> subprocess.CompletedProcess[str]:
        """Like :meth:`run`, with each line of output (stdout and stderr together) passed to ``on_line`` as it comes."""
        lines: list[str] = []
        with subprocess.Popen(
            [self.path, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=self.env(),
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                on_line(line.rstrip("\n"))
        return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines), "")

    def image_exists(self, ref: str) -> bool:
        if self.name == "docker":
            return self.run(["image", "inspect", ref]).returncode == 0
        if self.name == "buildah":
            return self.run(["inspect", "--type", "image", ref]).returncode == 0
        return self.run(["image", "exists", ref]).returncode == 0

    def build_args(
        self, dockerfile: Path, context: Path, tag: str, platform: tuple[str, ...], secrets: dict[str, Path]
    ) -> list[str]:
        args = ["bud"] if self.name == "buildah" else ["build"]
        args += ["-f", str(dockerfile), "-t", tag, "--network", "host"]
        if self.name != "docker" or platform != ("linux/amd64",):
            args += ["--platform", ",".join(platform)]
        for ident, path in secrets.items():
            args += ["--secret", f"id={ident},src={path}"]
        if self.name in ("podman", "buildah"):
            args += ["--layers"]
        return [*args, str(context)]

    def push_args(self, ref: str) -> list[str]:
        registry, _, _ = split_reference(ref)
        args = ["push"]
        if self.name in ("podman", "buildah") and registry is not None and _is_loopback(registry):
            args.append("--tls-verify=false")
        return [*args, ref]


_TOOL_CACHE: dict[str, ContainerTool | None] = {}


def find_container_tool(preferred: str | None = None) -> ContainerTool | None:
    """The first container tool that works here (``FLYTE_CONTAINER_TOOL`` or ``preferred`` first)."""
    names = [n for n in (os.environ.get("FLYTE_CONTAINER_TOOL"), preferred) if n] + list(LocalImageBuilder.tool_names())
    for name in dict.fromkeys(names):
        if name in _TOOL_CACHE:
            if _TOOL_CACHE[name] is not None:
                return _TOOL_CACHE[name]
            continue
        path = shutil.which(name)
        tool = ContainerTool(name, path) if path else None
        if tool is not None:
            probe = tool.run(["info"] if name != "buildah" else ["version"], timeout=60)
            if probe.returncode != 0:
                tool = None
        _TOOL_CACHE[name] = tool
        if tool is not None:
            return tool
    return None


def _one_block(title: str, output: str) -> str:
    text = output.strip()
    if len(text) > _OUTPUT_LIMIT:
        text = "...\n" + text[-_OUTPUT_LIMIT:]
    return f"{title}\n{text}" if text else title


class LocalImageBuilder:
    """Builds with podman, docker or buildah on this machine, then pushes to the image's registry."""

    preferred: str | None = None

    @staticmethod
    def tool_names() -> tuple[str, ...]:
        return ("podman", "docker", "buildah")

    def get_checkers(self) -> list[type[ImageChecker]] | None:
        return [RegistryChecker, LocalStoreChecker]

    def tool(self) -> ContainerTool:
        tool = find_container_tool(self.preferred)
        if tool is None:
            raise ImageBuildError(
                "no container tool works here (podman, docker or buildah); install one, or run tasks "
                "without building (the local executor materialises Python layers as virtualenvs)"
            )
        return tool

    async def build_image(self, image: Image, dry_run: bool, wait: bool = True, force: bool = False) -> ImageBuild:
        from flyte._build import ImageBuild

        plan = render(image)
        uri = image.uri
        if dry_run:
            return ImageBuild(uri=uri, remote_run=None, dockerfile=plan.dockerfile, notes=tuple(plan.notes))
        tool = self.tool()
        with tempfile.TemporaryDirectory(prefix="flyte-build-") as tmp:
            context = Path(tmp) / "context"
            if image.dockerfile is not None:
                dockerfile = image.dockerfile.resolve()
                context = dockerfile.parent
            else:
                dockerfile = write_context(plan, context)
            secrets = _secret_files(plan.secrets, Path(tmp))
            args = tool.build_args(
                dockerfile, context, uri, image.platform if image.dockerfile else ("linux/amd64",), secrets
            )
            report = BUILD_PROGRESS.get()
            if report is None:
                built = await asyncio.to_thread(tool.run, args)
            else:

                def on_line(line: str, report: Callable[[str, int, int, str], None] = report) -> None:
                    step = parse_step(line)
                    if step is not None:
                        report(uri, *step)

                if tool.name == "docker":
                    args = ["build", "--progress", "plain", *args[1:]]
                built = await asyncio.to_thread(tool.stream, args, on_line)
            if built.returncode != 0:
                raise ImageBuildError(
                    _one_block(
                        f"building image {uri} with {tool.name} failed (exit {built.returncode}):",
                        built.stdout + built.stderr,
                    )
                )
        if image.registry is not None:
            pushed = await asyncio.to_thread(tool.run, tool.push_args(uri))
            if pushed.returncode != 0:
                raise ImageBuildError(
                    _one_block(f"pushing image {uri} with {tool.name} failed:", pushed.stdout + pushed.stderr)
                )
        return ImageBuild(uri=uri, remote_run=None, dockerfile=plan.dockerfile, notes=tuple(plan.notes))


def _secret_files(secrets: dict[str, Any], directory: Path) -> dict[str, Path]:
    """The build secrets' values (from this machine's environment) in files for ``--secret``."""
    files: dict[str, Path] = {}
    for ident, secret in secrets.items():
        value = os.environ.get(secret.env_var)
        if value is None:
            raise ImageBuildError(
                f"the image needs the secret {secret.key!r} while it builds; set ${secret.env_var} on this machine"
            )
        path = directory / f"secret-{ident}"
        path.write_text(value)
        path.chmod(0o600)
        files[ident] = path
    return files


class ImageBuildEngine:
    """Builds images with the configured builder unless they already exist."""

    ImageBuilderType = Literal["local", "local-podman", "remote"]

    _builders: ClassVar[dict[str, ImageBuilder]] = {}

    @classmethod
    def register(cls, name: str, builder: ImageBuilder) -> None:
        """Use ``builder`` for ``image.builder: name``."""
        cls._builders[name] = builder

    @classmethod
    def _builder(cls, name: str | None) -> ImageBuilder:
        name = name or _configured_builder()
        if name in cls._builders:
            return cls._builders[name]
        if name in ("local", "local-podman", "local-docker"):
            builder = LocalImageBuilder()
            if name == "local-podman":
                builder.preferred = "podman"
            return builder
        raise ImageBuildError(
            f"image builder {name!r} is not available here; use 'local' (podman, docker or buildah on this machine)"
        )

    @staticmethod
    async def image_exists(image: Image, checkers: list[type[ImageChecker]] | None = None) -> str | None:
        """The image's reference when a checker finds it, else ``None`` (also when no checker can tell)."""
        repository, _, tag = image.uri.rpartition(":")
        for checker in checkers or [RegistryChecker, LocalStoreChecker]:
            try:
                found = await checker.image_exists(repository, tag, image.platform)  # type: ignore[arg-type]
            except Exception:
                continue
            return found
        return None

    @classmethod
    async def build(
        cls,
        image: Image,
        builder: ImageBuilderType | None = None,
        dry_run: bool = False,
        force: bool = False,
        wait: bool = True,
    ) -> ImageBuild:
        """Build ``image`` unless a checker finds it (``force`` builds anyway).

        Raises:
            ImageBuildError: the image cannot be built (the builder's output in the message).
        """
        from flyte._build import ImageBuild

        if image.ref_name is not None and image.base_image is None:
            from flyte._initialize import get_init_config

            named = get_init_config().images.get(image.ref_name)
            if named is None:
                raise ImageBuildError(
                    f"Image.from_ref_name({image.ref_name!r}) names no configured image; add it under image.image_refs "
                    f"in the config file or flyte.init(images={{{image.ref_name!r}: URI}})"
                )
            return ImageBuild(uri=named, remote_run=None, existed=True)
        if not image.needs_build:
            return ImageBuild(uri=image.uri, remote_run=None)
        impl = cls._builder(builder)
        if not force and not dry_run:
            found = await cls.image_exists(image, impl.get_checkers())
            if found is not None:
                return ImageBuild(uri=found, remote_run=None, existed=True)
        image.validate()
        return await impl.build_image(image, dry_run=dry_run, wait=wait, force=force)


def _configured_builder() -> str:
    try:
        from flyte._initialize import get_init_config

        return get_init_config().image_builder or "local"
    except Exception:
        return os.environ.get("FLYTE_IMAGE_BUILDER", "local")
