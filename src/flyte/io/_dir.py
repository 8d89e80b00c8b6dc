"""``Dir``: a reference to a directory (a key prefix on object stores), passed by URI.

On the wire a directory is a ``Blob`` literal of ``MULTIPART`` dimensionality; like ``File``, its
``format`` travels in the blob type and its ``hash`` in the literal's ``hash``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from flyteidl2.core import literals_pb2, types_pb2
from mashumaro.types import SerializableType
from pydantic import BaseModel, ConfigDict, model_validator

from flyte import storage
from flyte._internal.syncify import run_sync
from flyte.io._file import (
    File,
    _blob_literal,
    blob_of,
    fill_name_from_path,
    local_path_of,
    name_from_path,
    reference_class,
    schema_describes,
)
from flyte.storage._filesystem import (
    get_underlying_filesystem,
    is_remote,
    local_path,
    needs_offload,
    random_remote_path,
)
from flyte.types._type_engine import TypeTransformer, TypeTransformerFailedError, _short_repr, type_name

__all__ = ["Dir", "DirTransformer", "EmptyDir"]

T = TypeVar("T")
_EMPTY_PATH = "::flyte-empty-dir::"


class Dir(BaseModel, Generic[T], SerializableType):
    """A directory in local or remote storage; the type parameter names the format of its files.

    Example:
        >>> import flyte
        >>> from flyte.io import Dir
        >>> env = flyte.TaskEnvironment(name="dirs")
        >>> @env.task
        ... async def count(d: Dir) -> int:
        ...     return len([f async for f in d.walk()])
    """

    model_config = ConfigDict(
        json_schema_extra={"description": "A directory reference with an optional format type.", "x-flyte-type": "dir"}
    )

    path: str
    """Where the directory lives: a local path or a URI prefix such as ``s3://bucket/dir``."""
    name: str | None = None
    """The directory name (the last part of ``path`` unless given)."""
    format: str = ""
    """The format of the files in it; empty when unknown."""
    hash: str | None = None
    """A cache key for the content, chosen by the user; used in cache keys."""

    @model_validator(mode="before")
    @classmethod
    def pre_init(cls, data: Any) -> Any:
        """Fill ``name`` from ``path`` when it is not given."""
        return fill_name_from_path(data)

    @classmethod
    def schema_match(cls, incoming: dict[str, Any]) -> bool:
        """Return whether a JSON schema describes a ``Dir``.

        Example:
            >>> Dir.schema_match(Dir.model_json_schema())
            True
        """
        return schema_describes(incoming, flyte_type="dir", title="Dir")

    def _serialize(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def _deserialize(cls, value: dict[str, Any]) -> Dir[Any]:
        return cls.model_validate(value)

    @classmethod
    def empty(cls) -> Dir[Any]:
        """A placeholder for "no directory"; :attr:`is_empty` is true.

        Example:
            >>> Dir.empty().is_empty
            True
        """
        return EmptyDir(path=_EMPTY_PATH, name="")

    @property
    def is_empty(self) -> bool:
        """Whether this is the :meth:`empty` placeholder."""
        return self.path == _EMPTY_PATH

    @classmethod
    async def from_local(
        cls,
        local_path: str | Path,
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        """Make a ``Dir`` of a local directory, uploading it when the destination is remote.

        Args:
            local_path: the directory.
            remote_destination: where to copy it; the raw-data path when that is remote.
            dir_cache_key: a hash for cache keys.
            batch_size: how many files are uploaded at once.
            chunk_size: the part size of multi-part uploads.
            max_concurrency: how many parts of one file are uploaded at once.

        Example:
            >>> import asyncio, tempfile
            >>> asyncio.run(Dir.from_local(tempfile.mkdtemp(), dir_cache_key="k")).hash
            'k'
        """
        source = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(source):
            raise NotADirectoryError(f"Dir.from_local: {source} is not a directory")
        destination = remote_destination
        if destination is None and needs_offload(source):
            destination = random_remote_path(os.path.basename(source))
        path = source
        if destination is not None:
            path = await storage.put(
                source,
                destination,
                recursive=True,
                batch_size=batch_size,
                chunk_size=chunk_size,
                max_concurrency=max_concurrency,
            )
        return cls(path=path, name=os.path.basename(source), hash=dir_cache_key)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | Path,
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        """Blocking variant of :meth:`from_local`."""
        return run_sync(
            cls.from_local(local_path, remote_destination, dir_cache_key, batch_size, chunk_size, max_concurrency)
        )

    @classmethod
    def from_existing_remote(cls, remote_path: str, dir_cache_key: str | None = None) -> Dir[T]:
        """Reference an existing directory without copying it.

        Example:
            >>> Dir.from_existing_remote("s3://bucket/images/").name
            'images'
        """
        return cls(path=remote_path, hash=dir_cache_key)

    @classmethod
    def new_remote(cls, dir_name: str | None = None, hash: str | None = None) -> Dir[T]:
        """Reserve a fresh directory location under the raw-data path.

        Example:
            >>> Dir.new_remote("out").name
            'out'
        """
        return cls(path=random_remote_path(dir_name), hash=hash)

    def _file(self, path: str) -> File[T]:
        return typing.cast("File[T]", File(path=path, format=self.format))

    def _list(self, recursive: bool, max_depth: int | None) -> list[str]:
        if not is_remote(self.path):
            root = local_path(self.path)
            found: list[str] = []
            base_depth = root.rstrip(os.sep).count(os.sep)
            for directory, subdirectories, names in os.walk(root):
                depth = directory.rstrip(os.sep).count(os.sep) - base_depth
                if not recursive or (max_depth is not None and depth + 1 >= max_depth):
                    subdirectories.clear()
                subdirectories.sort()
                found.extend(os.path.join(directory, name) for name in sorted(names))
            return found
        fs = get_underlying_filesystem(path=self.path)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        limit = 1 if not recursive else max_depth
        entries = fs.find(self.path, maxdepth=limit) if limit else fs.find(self.path)
        return [f"{protocol}://{entry}" for entry in sorted(entries) if not entry.endswith("/")]

    async def walk(self, recursive: bool = True, max_depth: int | None = None) -> AsyncIterator[File[T]]:
        """Yield a ``File`` for each file in the directory (and its subdirectories when ``recursive``).

        Example:
            >>> import asyncio, tempfile, pathlib
            >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "a.txt").write_text("a")
            >>> async def names():
            ...     return [f.name async for f in Dir.from_existing_remote(str(root)).walk()]
            >>> asyncio.run(names())
            ['a.txt']
        """
        for path in await asyncio.to_thread(self._list, recursive, max_depth):
            yield self._file(path)

    def walk_sync(
        self, recursive: bool = True, file_pattern: str = "*", max_depth: int | None = None
    ) -> Iterator[File[T]]:
        """Blocking variant of :meth:`walk`, keeping files whose name matches ``file_pattern``."""
        for path in self._list(recursive, max_depth):
            if fnmatch.fnmatch(name_from_path(path), file_pattern):
                yield self._file(path)

    async def list_files(self) -> list[File[T]]:
        """Return the files directly in the directory (not in subdirectories)."""
        return [self._file(path) for path in await asyncio.to_thread(self._list, False, None)]

    def list_files_sync(self) -> list[File[T]]:
        """Blocking variant of :meth:`list_files`."""
        return [self._file(path) for path in self._list(False, None)]

    async def get_file(self, file_name: str) -> File[T] | None:
        """Return the file called ``file_name`` directly in the directory, or ``None``."""
        candidate = storage.join(self.path, file_name)
        return self._file(candidate) if await storage.exists(candidate) else None

    def get_file_sync(self, file_name: str) -> File[T] | None:
        """Blocking variant of :meth:`get_file`."""
        return run_sync(self.get_file(file_name))

    async def download(self, local_path: str | Path | None = None) -> str:
        """Copy the directory to a local path (a fresh scratch directory when omitted) and return it."""
        if local_path is None and not is_remote(self.path):
            return local_path_of(self.path)
        return await storage.get(self.path, local_path, recursive=True)

    def download_sync(self, local_path: str | Path | None = None) -> str:
        """Blocking variant of :meth:`download`."""
        return run_sync(self.download(local_path))

    async def exists(self) -> bool:
        """Return whether the directory exists."""
        return await storage.exists(self.path)

    def exists_sync(self) -> bool:
        """Blocking variant of :meth:`exists`."""
        return storage.exists_sync(self.path)


class EmptyDir(Dir[Any]):
    """The placeholder returned by :meth:`Dir.empty`.

    Example:
        >>> isinstance(Dir.empty(), EmptyDir)
        True
    """


class DirTransformer(TypeTransformer[Dir[Any]]):
    """Converts ``Dir`` values to multi-part ``Blob`` literals and back.

    Example:
        >>> from flyte.types import TypeEngine
        >>> TypeEngine.to_literal_type(Dir).blob.dimensionality == types_pb2.BlobType.MULTIPART
        True
    """

    def __init__(self) -> None:
        super().__init__("Dir", Dir)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(blob=types_pb2.BlobType(format="", dimensionality=types_pb2.BlobType.MULTIPART))

    async def to_literal(
        self, python_val: Dir[Any], python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if isinstance(python_val, (str, Path)):
            python_val = await Dir.from_local(python_val)
        if not isinstance(python_val, Dir):
            raise TypeTransformerFailedError(
                f"Expected a Dir, got {_short_repr(python_val)} of type {type_name(type(python_val))}"
            )
        path = python_val.path
        if not python_val.is_empty and needs_offload(path):
            path = await storage.put(local_path(path), random_remote_path(name_from_path(path)), recursive=True)
        return _blob_literal(path, python_val.format, types_pb2.BlobType.MULTIPART, python_val.hash)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Dir[Any]:
        blob = blob_of(lv, expected_python_type)
        if blob.metadata.type.dimensionality != types_pb2.BlobType.MULTIPART:
            raise TypeTransformerFailedError(
                f"Expected a multi-part blob for {type_name(expected_python_type)}, got a single file at {blob.uri}"
            )
        if blob.uri == _EMPTY_PATH:
            return Dir.empty()
        target = reference_class(expected_python_type, Dir)
        return target(path=blob.uri, format=blob.metadata.type.format, hash=lv.hash or None)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if (
            literal_type.WhichOneof("type") == "blob"
            and literal_type.blob.dimensionality == types_pb2.BlobType.MULTIPART
        ):
            return Dir
        raise ValueError(f"{self.name} cannot reverse {literal_type}")
