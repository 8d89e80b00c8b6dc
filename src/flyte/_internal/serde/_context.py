"""What serialising a task needs besides the task: version, code bundle, images, project."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SDK_RUNTIME_VERSION", "CodeBundle", "ImageCache", "SerializationContext"]

SDK_RUNTIME_VERSION = "2.12.1"
"""The Flyte 2 SDK version whose protocol this SDK speaks, written to ``metadata.runtime.version``.

Backends gate behaviour on it (OSS stamps ``run_start_time`` for SDKs from 2.3.6 on), so it names
the protocol level rather than this distribution's own version.
"""


@dataclass(frozen=True, kw_only=True)
class CodeBundle:
    """Where a task's code comes from when it runs on a control plane.

    Exactly one of ``tgz`` and ``pkl`` is set: a tarball of the user's modules (loaded with a
    resolver) or a gzipped cloudpickle of the task itself (interactive sessions).

    Example:
        >>> CodeBundle(tgz="s3://bucket/fast123.tar.gz", computed_version="123").uri
        's3://bucket/fast123.tar.gz'
    """

    tgz: str | None = None
    """URI of a ``.tar.gz`` of the code, extracted into ``destination`` before the task loads."""
    pkl: str | None = None
    """URI of a gzipped cloudpickle of the task (no resolver needed)."""
    destination: str = "."
    """Directory (relative to the worker's working directory) the bundle is extracted into."""
    computed_version: str = ""
    """A digest of the bundle's contents; part of the default deploy version."""
    downloaded_path: Path | None = None
    """Where the bundle was downloaded to, once it has been (inside an action)."""
    files: list[str] | None = None
    """The files the bundle holds (relative paths), when known."""

    def __post_init__(self) -> None:
        if (self.tgz is None) == (self.pkl is None):
            raise ValueError("CodeBundle needs exactly one of tgz and pkl")

    def with_downloaded_path(self, path: Path) -> CodeBundle:
        """A copy that records where the bundle was downloaded to."""
        from dataclasses import replace

        return replace(self, downloaded_path=path)

    @property
    def uri(self) -> str:
        """The bundle's URI, whichever kind it is."""
        return self.tgz if self.tgz is not None else self.pkl  # type: ignore[return-value]


def _gzip(data: bytes) -> bytes:
    """Gzip with a zero mtime and OS byte 255, byte for byte what Flyte 2 writes."""
    import struct
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + trailer


@dataclass(frozen=True, kw_only=True)
class ImageCache:
    """The images chosen for each environment at deploy or run time (the ``--image-cache`` argument).

    Example:
        >>> cache = ImageCache(image_lookup={"demo": "ghcr.io/org/demo:abc"})
        >>> ImageCache.from_transport(cache.to_transport()) == cache
        True
    """

    image_lookup: dict[str, str] = field(default_factory=dict)
    """Environment name → image URI."""
    build_run_ids: dict[str, str] = field(default_factory=dict)
    """Environment name → the run that built its image (remote builder)."""

    def to_transport(self) -> str:
        """Gzip + base64 of compact JSON, the form Flyte 2 passes on the ``a0`` command line."""
        document = {"image_lookup": self.image_lookup, "build_run_ids": self.build_run_ids}
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.b64encode(_gzip(raw)).decode()

    @classmethod
    def from_transport(cls, value: str) -> ImageCache:
        """Decode :meth:`to_transport`'s output (also what the PyPI SDK writes).

        Raises:
            ValueError: ``value`` is not gzip + base64 JSON of the expected shape.
        """
        try:
            document: Any = json.loads(gzip.decompress(base64.b64decode(value)))
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"--image-cache is not a gzipped, base64-encoded JSON document: {error}") from error
        if not isinstance(document, dict):
            raise ValueError("--image-cache must hold a JSON object")
        lookup = document.get("image_lookup") or {}
        runs = document.get("build_run_ids") or {}
        return cls(image_lookup={str(k): str(v) for k, v in lookup.items()}, build_run_ids=dict(runs))


@dataclass(frozen=True)
class SerializationContext:
    """Everything besides the task that its :class:`~flyteidl2.task.task_definition_pb2.TaskSpec` needs.

    Example:
        >>> SerializationContext(version="v1", project="p", domain="d").org
        ''
    """

    version: str
    """The task version (deploy version, or the parent's version for nested calls)."""
    _: KW_ONLY
    project: str = ""
    """Project of the task id."""
    domain: str = ""
    """Domain of the task id."""
    org: str = ""
    """Organisation of the task id (``""`` from a laptop against localhost, ``"local"`` in OSS tasks)."""
    code_bundle: CodeBundle | None = None
    """Where the code comes from; ``None`` only for specs that are never executed."""
    image_cache: ImageCache | None = None
    """Resolved images by environment name; tasks whose environment is missing use their own image."""
    root_dir: Path | None = None
    """The root of the user's code, against which ``__main__`` scripts are named (default:
    ``flyte.init(root_dir=...)``, else the current directory)."""
    sys_path: str | None = None
    """The ``_F_SYS_PATH`` value (``:``-separated, relative to the bundle) added to deployed tasks."""
    input_path: str = "{{.input}}"
    """Template the backend replaces with the inputs file."""
    output_path: str = "{{.outputPrefix}}"
    """Template the backend replaces with the attempt's output directory."""
    interpreter_path: str = "/opt/venv/bin/python"
    """The Python interpreter of the task's image; the ``a0`` entry point sits next to it."""

    def get_entrypoint_path(self, interpreter_path: str | None = None) -> str:
        """The path of the runtime entry point script in the image (``runtime.py`` next to the
        interpreter, as Flyte 2 names it; the Spark plugin makes it the main application file).

        Example:
            >>> SerializationContext(version="v1").get_entrypoint_path()
            '/opt/venv/bin/runtime.py'
        """
        import os.path

        return os.path.join(os.path.dirname(interpreter_path or self.interpreter_path), "runtime.py")
