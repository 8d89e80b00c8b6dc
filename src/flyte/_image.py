"""The container image a task runs in, described as an immutable spec (building lives elsewhere).

An :class:`Image` starts from a base (a published image, a Dockerfile, or Flyte's Debian
image) and gains layers through ``with_*`` methods, each of which returns a new image. The
image's :attr:`~Image.uri` is ``registry/name:tag`` where the tag is a content hash of the spec,
so the same spec gives the same tag on every machine and any change gives a new one.

Example:
    >>> image = Image.from_debian_base(registry="ghcr.io/acme", name="etl").with_pip_packages("polars")
    >>> image.uri.startswith("ghcr.io/acme/etl:")
    True
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from flyte._image_layers import (
    AptPackages,
    Architecture,
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
    ProjectInstallMode,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
    canonical,
)
from flyte._secret import Secret, SecretRequest, normalize_secrets
from flyte._version import API_VERSION
from flyte.errors import ImageBuildError

__all__ = ["DEFAULT_IMAGE_REPOSITORY", "Architecture", "Image", "Layer"]

DEFAULT_IMAGE_REPOSITORY = "ghcr.io/flyteorg/flyte"
"""Where the published Debian images with Flyte installed live."""

_ALL_PLATFORMS: tuple[str, ...] = ("linux/amd64", "linux/arm64")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# A first component is a registry host only if it has a dot or a port, or is localhost (as in Docker).
_HOST = rf"(?:localhost(?::[0-9]+)?|{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+)"
_REGISTRY = re.compile(rf"^(?:{_HOST}|{_PATH_COMPONENT})(?:/{_PATH_COMPONENT})*$")
_REFERENCE = re.compile(
    rf"^(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$"
)
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _url_tuple(urls: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if urls is None:
        return ()
    return (urls,) if isinstance(urls, str) else tuple(urls)


def _str_tuple(values: Any, *, field_name: str) -> tuple[str, ...]:
    items = tuple(values)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"{field_name} must be strings given as separate arguments, got {type(item).__name__} at "
                f"position {index}: {item!r}"
            )
    return items


def _current_python() -> tuple[int, int]:
    return sys.version_info.major, sys.version_info.minor


_FACTORY = object()


@dataclass(frozen=True)
class Image:
    """An immutable container image spec.

    Make one with a ``from_*`` class method, then add layers with the ``with_*`` methods; each
    returns a new :class:`Image` and leaves the original untouched.

    Example:
        >>> base = Image.from_debian_base(name="train", python_version=(3, 11))
        >>> gpu = base.with_apt_packages("git").with_pip_packages("torch", index_url="https://download.pytorch.org/whl")
        >>> (len(base.layers), len(gpu.layers))
        (0, 2)
    """

    base_image: str | None = None
    """The image to start from, as a full reference (``"python:3.11-slim"``)."""
    dockerfile: Path | None = None
    """A Dockerfile to build instead of starting from ``base_image``."""
    registry: str | None = None
    """Where the built image is pushed, for example ``"ghcr.io/acme"``."""
    name: str | None = None
    """The repository name of the built image; ``"flyte"`` when not given."""
    platform: tuple[str, ...] = ("linux/amd64",)
    """The platforms to build for."""
    python_version: tuple[int, int] = field(default_factory=_current_python)
    """The Python version in the image, as ``(major, minor)``."""
    extendable: bool = False
    """Whether layers may be added."""
    layers: tuple[Layer, ...] = ()
    """The steps added on top of the base, in order."""
    registry_secret: Secret | None = None
    """Credentials for pulling the base image or pushing the result."""
    ref_name: str | None = None
    """A name resolved to a concrete image by configuration (see :meth:`from_ref_name`)."""
    _factory: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._factory is not _FACTORY:
            raise TypeError(
                "Image cannot be created directly; use Image.from_debian_base(), from_base() or another from_*()"
            )
        if self.base_image and not _REFERENCE.match(self.base_image):
            raise ValueError(
                f"base_image must be an image reference such as 'python:3.11-slim', got {self.base_image!r}"
            )
        if self.registry is not None and not _REGISTRY.match(self.registry):
            raise ValueError(f"registry must look like 'ghcr.io/org' or 'localhost:5000', got {self.registry!r}")
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError(
                f"name must be lower-case letters, digits and separators ('.', '_', '-', '/'), got {self.name!r}"
            )
        platform = (self.platform,) if isinstance(self.platform, str) else tuple(self.platform)
        if not platform or any(not isinstance(p, str) or not _PLATFORM.match(p) for p in platform):
            raise ValueError(f"platform must be one or more of 'os/arch' such as 'linux/amd64', got {self.platform!r}")
        object.__setattr__(self, "platform", platform)
        object.__setattr__(self, "python_version", _check_python_version(self.python_version))
        if self.dockerfile is not None:
            object.__setattr__(self, "dockerfile", Path(self.dockerfile))

    @classmethod
    def _make(cls, **kwargs: Any) -> Image:
        return cls(_factory=_FACTORY, **kwargs)

    # --- factories -------------------------------------------------------------------------

    @classmethod
    def from_debian_base(
        cls,
        python_version: tuple[int, int] | None = None,
        flyte_version: str | None = None,
        install_flyte: bool = True,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        platform: tuple[Architecture, ...] | None = None,
    ) -> Image:
        """Start from a Debian image with Python (and, by default, Flyte) installed.

        Without layers, a name or a registry this is the published image as is; otherwise it is
        the base of an image to build.

        Example:
            >>> Image.from_debian_base(python_version=(3, 12), flyte_version="2.0.0").uri
            'ghcr.io/flyteorg/flyte:py3.12-v2.0.0'
        """
        version = _check_python_version(python_version or _current_python())
        if install_flyte:
            base = f"{DEFAULT_IMAGE_REPOSITORY}:py{version[0]}.{version[1]}-v{flyte_version or API_VERSION}"
        else:
            base = f"python:{version[0]}.{version[1]}-slim-bookworm"
        return cls._make(
            base_image=base,
            registry=registry,
            name=name,
            platform=platform or _ALL_PLATFORMS,
            python_version=version,
            extendable=True,
            registry_secret=_to_secret(registry_secret),
        )

    @classmethod
    def from_base(cls, image_uri: str) -> Image:
        """Use a published image as is (it cannot be extended until :meth:`clone` d).

        An empty ``image_uri`` (say, from an unset environment variable) is accepted here and
        reported when :attr:`uri` is read, so that importing the module still works.

        Example:
            >>> Image.from_base("python:3.11-slim").uri
            'python:3.11-slim'
        """
        return cls._make(base_image=image_uri or None)

    @classmethod
    def from_dockerfile(
        cls,
        file: Path | str,
        registry: str,
        name: str,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """Build from a Dockerfile; its content is part of the tag.

        Raises:
            FileNotFoundError: the Dockerfile does not exist.

        Example:
            >>> Image.from_dockerfile("Dockerfile", registry="ghcr.io/acme", name="app")  # doctest: +SKIP
        """
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"Dockerfile not found: {path}")
        return cls._make(dockerfile=path, registry=registry, name=name, platform=platform or ("linux/amd64",))

    @classmethod
    def from_uv_script(
        cls,
        script: Path | str,
        *,
        name: str,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        python_version: tuple[int, int] | None = None,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        platform: tuple[Architecture, ...] | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Build an image with the dependencies a script declares in its ``# /// script`` header.

        Example:
            >>> Image.from_uv_script("job.py", name="job").layers[0].script
            PosixPath('job.py')
        """
        version = _check_python_version(python_version or _current_python())
        layer = UVScript(
            script=Path(script),
            index_url=index_url,
            extra_index_urls=_url_tuple(extra_index_urls),
            pre=pre,
            extra_args=extra_args,
            secret_mounts=_build_secrets(secret_mounts),
        )
        return cls._script_image(layer, version, name, registry, registry_secret, platform)

    @classmethod
    def _script_image(
        cls,
        layer: Layer,
        version: tuple[int, int],
        name: str,
        registry: str | None,
        registry_secret: str | Secret | None,
        platform: tuple[Architecture, ...] | None,
    ) -> Image:
        """An image of one script layer on the slim Debian Python image of ``version``."""
        return cls._make(
            base_image=f"python:{version[0]}.{version[1]}-slim-bookworm",
            registry=registry,
            name=name,
            platform=platform or _ALL_PLATFORMS,
            python_version=version,
            extendable=True,
            layers=(layer,),
            registry_secret=_to_secret(registry_secret),
        )

    @classmethod
    def from_pixi_script(
        cls,
        script: Path | str,
        *,
        name: str,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        environment: str = "default",
        extra_args: str | None = None,
        platform: tuple[Architecture, ...] | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Build an image with the conda and PyPI packages a pixi script declares in its PEP 723 header.

        The header's ``requires-python`` (or ``[tool.pixi.dependencies] python``) picks the Python.

        Raises:
            FileNotFoundError: the script does not exist.

        Example:
            >>> Image.from_pixi_script("geo.py", name="geo").layers[0].environment  # doctest: +SKIP
            'default'
        """
        path = Path(script)
        if not path.is_file():
            raise FileNotFoundError(f"pixi script {path} does not exist")
        version = _pixi_script_python(path.read_text(encoding="utf-8")) or _current_python()
        layer = PixiScript(
            script=path,
            environment=environment,
            extra_args=extra_args,
            secret_mounts=_build_secrets(secret_mounts),
        )
        return cls._script_image(layer, version, name, registry, registry_secret, platform)

    @classmethod
    def from_ref_name(cls, name: str = "default") -> Image:
        """Refer to an image by a name that configuration maps to a concrete image.

        Example:
            >>> Image.from_ref_name("gpu").ref_name
            'gpu'
        """
        if not name:
            raise ValueError("from_ref_name needs a non-empty name")
        return cls._make(ref_name=name)

    def clone(
        self,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        base_image: str | None = None,
        python_version: tuple[int, int] | None = None,
        addl_layer: Layer | None = None,
        extendable: bool | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """A copy with some fields replaced (arguments left as ``None`` keep their value).

        Example:
            >>> Image.from_base("python:3.11").clone(name="mine", extendable=True).with_pip_packages("x").name
            'mine'
        """
        image = dataclasses.replace(
            self,
            registry=registry if registry is not None else self.registry,
            registry_secret=_to_secret(registry_secret) or self.registry_secret,
            name=name if name is not None else self.name,
            base_image=base_image if base_image is not None else self.base_image,
            python_version=python_version or self.python_version,
            extendable=extendable if extendable is not None else self.extendable,
            platform=(platform,) if isinstance(platform, str) else (platform or self.platform),
        )
        return image._add_layer(addl_layer) if addl_layer is not None else image

    # --- layers ----------------------------------------------------------------------------

    def _add_layer(self, layer: Layer) -> Image:
        if not self.extendable:
            raise ValueError(
                "This image cannot be extended (it was made with from_base() or from_dockerfile()); "
                "call .clone(name=..., extendable=True) first"
            )
        return dataclasses.replace(self, layers=(*self.layers, layer))

    def with_pip_packages(
        self,
        *packages: str,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Add a layer that installs Python packages.

        Example:
            >>> Image.from_debian_base().with_pip_packages("numpy", "pandas>=2").layers[-1].packages
            ('numpy', 'pandas>=2')
        """
        return self._add_layer(
            PipPackages(
                packages=_str_tuple(packages, field_name="packages"),
                index_url=index_url,
                extra_index_urls=_url_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                secret_mounts=_build_secrets(secret_mounts),
            )
        )

    def with_requirements(
        self,
        file: str | Path,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Add a layer that installs a ``requirements.txt`` file.

        Example:
            >>> Image.from_debian_base().with_requirements("requirements.txt").layers[-1].file
            PosixPath('requirements.txt')
        """
        path = Path(file)
        if path.suffix != ".txt":
            raise ValueError(f"requirements file must have a .txt extension, got {str(file)!r}")
        return self._add_layer(
            Requirements(
                file=path,
                index_url=index_url,
                extra_index_urls=_url_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                secret_mounts=_build_secrets(secret_mounts),
            )
        )

    def with_uv_project(
        self,
        pyproject_file: str | Path,
        uvlock: Path | None = None,
        index_url: str | None = None,
        extra_index_urls: list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
        project_install_mode: ProjectInstallMode = "dependencies_only",
    ) -> Image:
        """Add a layer that installs a uv project from its lock file.

        Example:
            >>> Image.from_debian_base().with_uv_project("pyproject.toml").layers[-1].uvlock
            PosixPath('uv.lock')
        """
        pyproject = Path(pyproject_file)
        _check_install_mode(project_install_mode)
        return self._add_layer(
            UVProject(
                pyproject=pyproject,
                uvlock=Path(uvlock) if uvlock is not None else pyproject.parent / "uv.lock",
                project_install_mode=project_install_mode,
                index_url=index_url,
                extra_index_urls=_url_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                secret_mounts=_build_secrets(secret_mounts),
            )
        )

    def with_pixi_project(
        self,
        manifest_file: str | Path,
        pixi_lock: Path | None = None,
        environment: str = "default",
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
        project_install_mode: ProjectInstallMode = "dependencies_only",
    ) -> Image:
        """Add a layer that installs a pixi project; its environment becomes the image's runtime.

        ``manifest_file`` is a ``pixi.toml``, a ``pyproject.toml`` with ``[tool.pixi]``, or the
        project directory (``pixi.toml`` is looked for first). The lock file defaults to the
        manifest's ``pixi.lock`` when there is one.

        Raises:
            FileNotFoundError: no manifest was found.

        Example:
            >>> Image.from_debian_base().with_pixi_project("pixi.toml").layers[-1].environment  # doctest: +SKIP
            'default'
        """
        manifest = Path(manifest_file)
        if manifest.is_dir():
            found = next((m for m in (manifest / "pixi.toml", manifest / "pyproject.toml") if m.is_file()), None)
            if found is None:
                raise FileNotFoundError(f"{manifest} has no pixi.toml or pyproject.toml")
            manifest = found
        elif not manifest.is_file():
            raise FileNotFoundError(f"pixi manifest {manifest} does not exist")
        _check_install_mode(project_install_mode)
        lock = Path(pixi_lock) if pixi_lock is not None else manifest.parent / "pixi.lock"
        return self._add_layer(
            PixiProject(
                manifest=manifest,
                pixi_lock=lock if lock.is_file() else None,
                environment=environment,
                extra_args=extra_args,
                secret_mounts=_build_secrets(secret_mounts),
                project_install_mode=project_install_mode,
            )
        )

    def with_local_v2(self) -> Image:
        """Add a layer that installs this machine's ``flyte`` distribution (to try SDK changes in a task).

        Example:
            >>> type(Image.from_debian_base().with_local_v2().layers[-1]).__name__
            'LocalSDK'
        """
        return self._add_layer(LocalSDK())

    def with_local_v2_plugins(self, plugins: str | list[str] | None = None) -> Image:
        """:meth:`with_local_v2`, plus plugin distributions from this machine (``"flyteplugins-ray"``...)."""
        names = (plugins,) if isinstance(plugins, str) else tuple(plugins or ())
        return self._add_layer(LocalSDK(plugins=names))

    def with_local_rs_controller(self) -> Image:
        """Flyte 2's switch to bake its Rust controller into the image; this SDK has no Rust controller.

        Raises:
            NotImplementedError: always; the Python controller is the only one here.
        """
        raise NotImplementedError("This SDK has no Rust controller to bake into an image; leave the call out")

    def with_poetry_project(
        self,
        pyproject_file: str | Path,
        poetry_lock: Path | None = None,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
        project_install_mode: ProjectInstallMode = "dependencies_only",
    ) -> Image:
        """Add a layer that installs a Poetry project from its lock file.

        Example:
            >>> Image.from_debian_base().with_poetry_project("pyproject.toml").layers[-1].poetry_lock
            PosixPath('poetry.lock')
        """
        pyproject = Path(pyproject_file)
        _check_install_mode(project_install_mode)
        return self._add_layer(
            PoetryProject(
                pyproject=pyproject,
                poetry_lock=Path(poetry_lock) if poetry_lock is not None else pyproject.parent / "poetry.lock",
                extra_args=extra_args,
                secret_mounts=_build_secrets(secret_mounts),
                project_install_mode=project_install_mode,
            )
        )

    def with_apt_packages(self, *packages: str, secret_mounts: SecretRequest | None = None) -> Image:
        """Add a layer that installs Debian packages.

        Example:
            >>> Image.from_debian_base().with_apt_packages("git", "curl").layers[-1].packages
            ('git', 'curl')
        """
        return self._add_layer(
            AptPackages(
                packages=_str_tuple(packages, field_name="packages"), secret_mounts=_build_secrets(secret_mounts)
            )
        )

    def with_commands(self, commands: list[str] | str, secret_mounts: SecretRequest | None = None) -> Image:
        """Add a layer that runs shell commands.

        Example:
            >>> Image.from_debian_base().with_commands(["mkdir /data"]).layers[-1].commands
            ('mkdir /data',)
        """
        items = (commands,) if isinstance(commands, str) else _str_tuple(commands, field_name="commands")
        return self._add_layer(Commands(commands=items, secret_mounts=_build_secrets(secret_mounts)))

    def with_env_vars(self, env_vars: dict[str, str]) -> Image:
        """Add a layer that sets environment variables (values are turned into strings).

        Example:
            >>> Image.from_debian_base().with_env_vars({"OMP_NUM_THREADS": 4}).layers[-1].env_vars
            (('OMP_NUM_THREADS', '4'),)
        """
        for key in env_vars:
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise ValueError(f"env_vars has an invalid variable name {key!r}")
        return self._add_layer(Env(env_vars=tuple((key, str(value)) for key, value in env_vars.items())))

    def with_workdir(self, workdir: str) -> Image:
        """Add a layer that sets the working directory.

        Example:
            >>> Image.from_debian_base().with_workdir("/app").layers[-1].workdir
            '/app'
        """
        if not isinstance(workdir, str) or not workdir:
            raise ValueError(f"workdir must be a non-empty path, got {workdir!r}")
        return self._add_layer(WorkDir(workdir=workdir))

    def with_source_folder(self, src: Path | str, dst: str = ".", copy_contents_only: bool = False) -> Image:
        """Add a layer that copies a local folder into the image.

        With the default ``dst="."`` the folder keeps its name (``src/`` lands in ``./src``);
        ``copy_contents_only=True`` copies what is inside it instead.

        Example:
            >>> Image.from_debian_base().with_source_folder(Path("pkg")).layers[-1].dst
            './pkg'
        """
        path = Path(src)
        if dst == "." and not copy_contents_only:
            dst = f"./{path.resolve().name}"
        return self._add_layer(CopyConfig(src=path, dst=dst, kind="folder"))

    def with_source_file(self, src: Path | str | list[Path], dst: str = ".") -> Image:
        """Add a layer (one per file) that copies local files into the image.

        Example:
            >>> len(Image.from_debian_base().with_source_file([Path("a.py"), Path("b.py")]).layers)
            2
        """
        image = self
        for path in src if isinstance(src, list) else [src]:
            image = image._add_layer(CopyConfig(src=Path(path), dst=dst, kind="file"))
        return image

    def with_dockerignore(self, path: Path | str) -> Image:
        """Add a ``.dockerignore`` that filters later copy steps.

        Example:
            >>> Image.from_debian_base().with_dockerignore(".dockerignore").layers[-1].path
            PosixPath('.dockerignore')
        """
        return self._add_layer(DockerIgnore(path=Path(path)))

    def with_code_bundle(
        self, copy_style: Literal["loaded_modules", "all"] = "loaded_modules", dst: str = "."
    ) -> Image:
        """Bake the task code into the image rather than shipping it at run time.

        Example:
            >>> Image.from_debian_base().with_code_bundle().layers[-1].copy_style
            'loaded_modules'
        """
        if copy_style not in ("loaded_modules", "all"):
            raise ValueError(f"copy_style must be 'loaded_modules' or 'all', got {copy_style!r}")
        return self._add_layer(CodeBundleLayer(copy_style=copy_style, dst=dst))

    # --- identity --------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description of everything that affects the built image.

        Example:
            >>> Image.from_base("python:3.11").fingerprint()["base_image"]
            'python:3.11'
        """
        return {
            "base_image": self.base_image,
            "dockerfile": canonical(self.dockerfile),
            "platform": list(self.platform),
            "python_version": list(self.python_version),
            "layers": [layer.fingerprint() for layer in self.layers],
        }

    @cached_property
    def identifier(self) -> str:
        """A 32-hex-digit content hash of the spec; the same as PyPI flyte's tag for the same spec.

        Example:
            >>> len(Image.from_debian_base().with_pip_packages("x").identifier)
            32
        """
        from flyte._image_tag import image_tag

        return image_tag(self)

    @property
    def needs_build(self) -> bool:
        """Whether the image must be built (it has layers, a Dockerfile, or a name or registry of its own).

        Example:
            >>> Image.from_base("python:3.11").needs_build
            False
        """
        return bool(self.layers) or self.dockerfile is not None or self.name is not None or self.registry is not None

    @cached_property
    def uri(self) -> str:
        """The full image reference: the base image itself, or ``registry/name:identifier`` when built.

        Raises:
            ImageBuildError: the image has no base (an empty ``from_base``) or is an unresolved reference.

        Example:
            >>> Image.from_debian_base(name="etl", registry="localhost:5000").uri.startswith("localhost:5000/etl:")
            True
        """
        if self.ref_name is not None and self.base_image is None:
            raise ImageBuildError(
                f"Image.from_ref_name({self.ref_name!r}) must be resolved through configuration first"
            )
        if not self.needs_build:
            if not self.base_image:
                raise ImageBuildError(
                    "Image has no base image URI; Image.from_base() was given None or an empty string "
                    "(an unset environment variable?). Pass a full reference such as 'ghcr.io/org/name:tag'."
                )
            return self.base_image
        repository = self.name or "flyte"
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{repository}:{self.identifier}"

    def validate(self) -> None:
        """Check that every local file the spec refers to exists (call before building).

        Raises:
            FileNotFoundError: a Dockerfile, requirements file, project file or copied source is missing.

        Example:
            >>> Image.from_debian_base().with_requirements("missing.txt").validate()
            Traceback (most recent call last):
            ...
            FileNotFoundError: Requirements refers to missing.txt, which does not exist
        """
        paths: list[tuple[str, Path]] = [("Dockerfile", self.dockerfile)] if self.dockerfile else []
        for layer in self.layers:
            for f in dataclasses.fields(layer):
                value = getattr(layer, f.name)
                if isinstance(value, Path) and f.name not in ("uvlock", "poetry_lock"):
                    paths.append((type(layer).__name__, value))
        for owner, path in paths:
            if not path.exists():
                raise FileNotFoundError(f"{owner} refers to {path}, which does not exist")


def _pixi_script_python(text: str) -> tuple[int, int] | None:
    """The Python a PEP 723 ``# /// script`` header asks for (pixi's own pin wins), if it names one."""
    header = re.search(r"^# /// script\s*$(.*?)^# ///\s*$", text, re.MULTILINE | re.DOTALL)
    if header is None:
        return None
    body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in header.group(1).splitlines())
    pixi = re.search(r"^\[tool\.pixi\.dependencies\](.*?)(?=^\[|\Z)", body, re.MULTILINE | re.DOTALL)
    pinned = re.search(r"^python\s*=\s*[\"'][^0-9]*(3)\.(\d+)", pixi.group(1), re.MULTILINE) if pixi else None
    wanted = pinned or re.search(r"^requires-python\s*=\s*[\"'][^0-9]*(3)\.(\d+)", body, re.MULTILINE)
    return (int(wanted.group(1)), int(wanted.group(2))) if wanted else None


def _check_python_version(value: Any) -> tuple[int, int]:
    version = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(version) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in version):
        raise ValueError(f"python_version must be (major, minor), for example (3, 11), got {value!r}")
    if version[0] != 3:
        raise ValueError(f"python_version must be a Python 3 version, got {value!r}")
    return version[0], version[1]


def _build_secrets(request: SecretRequest | None) -> tuple[Secret, ...]:
    """``normalize_secrets``, remembering which secrets were named by a plain string.

    Flyte 2 puts a secret named by a string into the image tag as that string, and a
    :class:`Secret` as its ``repr``; the mark keeps our tags equal to its tags.
    """
    secrets = normalize_secrets(request)
    listed = request if isinstance(request, (list, tuple)) else ()
    named = [request] if isinstance(request, str) else [s for s in listed if isinstance(s, str)]
    for secret in secrets:
        if secret.key in named and secret.group is None and secret.mount is None:
            object.__setattr__(secret, "_given_as", secret.key)
    return secrets


def _to_secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(key=value)


def _check_install_mode(mode: str) -> None:
    if mode not in ("dependencies_only", "install_project"):
        raise ValueError(f"project_install_mode must be 'dependencies_only' or 'install_project', got {mode!r}")
