"""``flyte.build`` and ``flyte.build_images``: build the images of images or environments.

Example:
    >>> import flyte
    >>> result = flyte.build(flyte.Image.from_base("python:3.11-slim"))
    >>> result.uri
    'python:3.11-slim'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flyte._internal.syncify import syncify

if TYPE_CHECKING:
    from flyte._image import Image
    from flyte._internal.serde import ImageCache
    from flyte._task_environment import Environment

__all__ = ["ImageBuild", "build", "build_images"]


@dataclass
class ImageBuild:
    """What building an image gave.

    Attributes:
        uri: the image's full reference.
        remote_run: the run of a remote builder (always ``None`` here: builds are local).
        build_run: the identifier of that run (``None``).
        dockerfile: the Dockerfile the local builder used (or would use, with ``dry_run``).
        existed: the image was found and not built again.
        notes: what the builder did differently from the spec (reported to the user).
    """

    uri: str | None
    remote_run: Any = None
    build_run: Any = None
    dockerfile: str | None = None
    existed: bool = False
    notes: tuple[str, ...] = ()


async def _build(image: Image, dry_run: bool = False, force: bool = False, wait: bool = True) -> ImageBuild:
    """Build ``image`` (unless its registry already has its tag) and push it to its registry.

    Args:
        image: the image to build.
        dry_run: render the Dockerfile without building.
        force: build even when the image exists.
        wait: kept for Flyte 2's signature; local builds always finish before this returns.

    Raises:
        ImageBuildError: the build failed; the message is the builder's output.
    """
    from flyte._internal.imagebuild.engine import ImageBuildEngine

    return await ImageBuildEngine.build(image, dry_run=dry_run, force=force, wait=wait)


build = syncify(_build)


def _environments(envs: tuple[Environment, ...]) -> list[Environment]:
    seen: dict[str, Environment] = {}
    stack = list(envs)
    while stack:
        env = stack.pop(0)
        if env.name in seen:
            continue
        seen[env.name] = env
        stack.extend(getattr(env, "depends_on", ()) or ())
    return list(seen.values())


async def _build_images(
    *envs: Environment,
    copy_style: Literal["loaded_modules", "all", "none"] = "loaded_modules",
    seed_cache: ImageCache | None = None,
) -> ImageCache:
    """Build the images of environments (and the environments they depend on).

    Args:
        envs: the environments.
        copy_style: the copy style of the deploy that will use the images (the tags do not depend on it here).
        seed_cache: images already built; environments it names are not built again.

    Returns:
        The environments' names mapped to their image URIs.

    Raises:
        ImageBuildError: an image failed to build.
    """
    from flyte._image import Image
    from flyte._internal.serde import ImageCache

    lookup = dict(seed_cache.image_lookup) if seed_cache is not None else {}
    done: dict[str, str] = {}
    for env in _environments(envs):
        if env.name in lookup:
            continue
        image = env.image
        if image == "auto" or image is None:
            image = Image.from_debian_base()
        if isinstance(image, str):
            lookup[env.name] = image
            continue
        key = image.uri
        if key not in done:
            result = await _build(image)
            done[key] = result.uri or key
        lookup[env.name] = done[key]
    return ImageCache(image_lookup=lookup, build_run_ids=dict(seed_cache.build_run_ids) if seed_cache else {})


build_images = syncify(_build_images)
