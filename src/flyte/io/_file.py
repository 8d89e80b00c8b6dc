"""``File``: a reference to one file in local or remote storage, passed between tasks by URI.

On the wire a file is a ``Blob`` literal of ``SINGLE`` dimensionality whose ``BlobType.format`` is
the file's ``format`` and whose literal ``hash`` is the file's ``hash``; the declared literal type
is a blob with an empty format. Data moves only when a task opens or downloads the file, or when
a local file must be uploaded because the run's raw-data path is remote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from flyteidl2.core import literals_pb2, types_pb2
from mashumaro.types import SerializableType
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.json_schema import SkipJsonSchema

from flyte import storage
from flyte._internal.syncify import run_sync
from flyte.io._hashing import HashingWriter, HashMethod, resolve
from flyte.storage._filesystem import is_remote, local_path, needs_offload, random_remote_path, raw_data_prefix
from flyte.types._type_engine import TypeTransformer, TypeTransformerFailedError, _short_repr, type_name

__all__ = ["File", "FileTransformer", "name_from_path"]

T = TypeVar("T")
_HASH_CHUNK = 4 * 1024 * 1024


def name_from_path(path: str) -> str:
    """Return the last component of a path or URI, ignoring a trailing slash.

    Example:
        >>> name_from_path("s3://bucket/dir/"), name_from_path("/tmp/a.csv")
        ('dir', 'a.csv')
    """
    return os.path.basename(path.rstrip("/"))


def fill_name_from_path(data: Any) -> Any:
    """Return model input with ``name`` taken from ``path`` when only the path is given."""
    if isinstance(data, dict) and data.get("path") is not None and data.get("name") is None:
        data = {**data, "name": name_from_path(str(data["path"]))}
    return data


def schema_describes(incoming: dict[str, Any], *, flyte_type: str, title: str) -> bool:
    """Return whether a JSON schema is the one of a blob reference model (``File`` or ``Dir``)."""
    return incoming.get("x-flyte-type") == flyte_type or (
        incoming.get("title") == title and "path" in incoming.get("properties", {})
    )


def _hash_local_file(path: str, hash_method: HashMethod) -> str:
    from flyte.io._hashing import HashFunction

    with open(path, "rb") as handle:
        if isinstance(hash_method, HashFunction):
            hash_method.update(handle.read())
        else:
            while chunk := handle.read(_HASH_CHUNK):
                hash_method.update(chunk)
    return hash_method.result()


class File(BaseModel, Generic[T], SerializableType):
    """A file in local or remote storage; the type parameter names its format (``File["csv"]``).

    Create one from a local file with :meth:`from_local`, point at an existing object with
    :meth:`from_existing_remote`, or write a new one with :meth:`new_remote` and :meth:`open`.

    Example:
        >>> import flyte
        >>> from flyte.io import File
        >>> env = flyte.TaskEnvironment(name="files")
        >>> @env.task
        ... async def count_lines(f: File) -> int:
        ...     async with f.open("rb") as fh:
        ...         return (await fh.read()).count(b"\\n")
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        json_schema_extra={"description": "A file reference with an optional format type.", "x-flyte-type": "file"},
    )

    path: str
    """Where the file lives: a local path or a URI such as ``s3://bucket/key``."""
    name: str | None = None
    """The file name (the last part of ``path`` unless given)."""
    format: str = ""
    """The file's format (``"csv"``, ``"parquet"``...); empty when unknown."""
    hash: str | None = None
    """A hash of the content (or a cache key chosen by the user); used in cache keys."""
    hash_method: SkipJsonSchema[HashMethod | None] = Field(default=None, exclude=True)
    """How :meth:`open` for writing computes :attr:`hash`."""
    _downloaded: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def pre_init(cls, data: Any) -> Any:
        """Fill ``name`` from ``path`` when it is not given."""
        return fill_name_from_path(data)

    @classmethod
    def schema_match(cls, incoming: dict[str, Any]) -> bool:
        """Return whether a JSON schema describes a ``File`` (used to rebuild types from schemas).

        Example:
            >>> File.schema_match(File.model_json_schema())
            True
        """
        return schema_describes(incoming, flyte_type="file", title="File")

    def _serialize(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def _deserialize(cls, value: dict[str, Any]) -> File[Any]:
        return cls.model_validate(value)

    @classmethod
    async def from_local(
        cls,
        local_path: str | Path,
        remote_destination: str | None = None,
        hash_method: HashMethod | str | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        """Make a ``File`` of a local file, uploading it when the destination is remote.

        Without ``remote_destination`` the file is uploaded under the run's raw-data path when
        that is remote, and referenced where it is when it is local (local runs copy nothing).

        Args:
            local_path: the file.
            remote_destination: where to copy it.
            hash_method: how to hash the content (a :class:`HashMethod`), or a precomputed hash.
            chunk_size: the part size of a multi-part upload.
            max_concurrency: how many parts are uploaded at once.

        Example:
            >>> import asyncio, tempfile
            >>> from pathlib import Path
            >>> p = Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_text("hi")
            >>> asyncio.run(File.from_local(p)).name
            'a.txt'
        """
        source = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(source):
            raise FileNotFoundError(f"File.from_local: {source} is not a file")
        method = resolve(hash_method)
        digest = None
        if method is not None:
            import asyncio

            digest = await asyncio.to_thread(_hash_local_file, source, method)
        destination = remote_destination
        if destination is None and needs_offload(source):
            destination = random_remote_path(os.path.basename(source))
        path = source
        if destination is not None:
            path = await storage.put(source, destination, chunk_size=chunk_size, max_concurrency=max_concurrency)
        return cls(path=path, name=os.path.basename(source), hash=digest, hash_method=method)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | Path,
        remote_destination: str | None = None,
        hash_method: HashMethod | str | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        """Blocking variant of :meth:`from_local`.

        Example:
            >>> import tempfile
            >>> from pathlib import Path
            >>> p = Path(tempfile.mkdtemp()) / "b.txt"; _ = p.write_text("hi")
            >>> File.from_local_sync(p, hash_method="v1").hash
            'v1'
        """
        return run_sync(cls.from_local(local_path, remote_destination, hash_method, chunk_size, max_concurrency))

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File[T]:
        """Reference an existing file without copying it.

        Args:
            remote_path: its path or URI.
            file_cache_key: a hash for cache keys (the content is not read).

        Example:
            >>> File.from_existing_remote("s3://bucket/a.csv").name
            'a.csv'
        """
        return cls(path=remote_path, hash=file_cache_key)

    @classmethod
    def new_remote(cls, file_name: str | None = None, hash_method: HashMethod | str | None = None) -> File[T]:
        """Reserve a fresh location under the raw-data path, to write with :meth:`open`.

        Example:
            >>> f = File.new_remote("out.bin")
            >>> f.name
            'out.bin'
        """
        return cls(path=random_remote_path(file_name), hash_method=resolve(hash_method))

    @classmethod
    def named_remote(cls, name: str) -> File[T]:
        """A location under the raw-data path determined by ``name`` and the running action.

        A retried attempt gets the same location, so it can resume or overwrite its output.

        Example:
            >>> File.named_remote("model.bin").name
            'model.bin'
        """
        from flyte._context import ctx

        task_context = ctx()
        scope = task_context.action.name if task_context else "local"
        return cls(path=storage.join(raw_data_prefix().rstrip("/"), "named", scope, name))

    @contextlib.asynccontextmanager
    async def open(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Open the file for streaming reads or writes: ``async with f.open("rb") as fh``.

        Writing with a ``hash_method`` sets :attr:`hash` when the block ends.

        Example:
            >>> import asyncio
            >>> async def write_then_read():
            ...     f = File.new_remote("greeting.txt")
            ...     async with f.open("wb") as fh:
            ...         await fh.write(b"hello")
            ...     async with f.open("rb") as fh:
            ...         return await fh.read()
            >>> asyncio.run(write_then_read())
            b'hello'
        """
        options = _open_options(self.path, block_size, cache_type, cache_options, compression, kwargs)
        handle = await storage.open(self.path, mode, **options)
        writing = any(flag in mode for flag in "wax")
        try:
            if writing and self.hash_method is not None:
                writer = HashingWriter(handle, self.hash_method)
                yield writer
                self.hash = writer.result()
            else:
                yield handle
        finally:
            await handle.close()

    @contextlib.contextmanager
    def open_sync(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> Iterator[IO[Any]]:
        """Blocking variant of :meth:`open`, yielding an ordinary file object.

        Example:
            >>> f = File.new_remote("x.txt")
            >>> with f.open_sync("w") as fh:
            ...     _ = fh.write("x")
        """
        from flyte.storage._open import open_sync

        options = _open_options(self.path, block_size, cache_type, cache_options, compression, kwargs)
        with open_sync(self.path, mode, **options) as handle:
            yield handle

    async def download(self, local_path: str | Path | None = None) -> str:
        """Copy the file to a local path (a fresh scratch path when omitted) and return it.

        Example:
            >>> import asyncio
            >>> f = File.new_remote("d.txt")
            >>> with f.open_sync("w") as fh:
            ...     _ = fh.write("d")
            >>> from pathlib import Path
            >>> Path(asyncio.run(f.download())).read_text()
            'd'
        """
        if local_path is None and not is_remote(self.path):
            return local_path_of(self.path)
        return await storage.get(self.path, local_path)

    def download_sync(self, local_path: str | Path | None = None) -> str:
        """Blocking variant of :meth:`download`."""
        return run_sync(self.download(local_path))

    async def exists(self) -> bool:
        """Return whether the file exists.

        Example:
            >>> import asyncio
            >>> asyncio.run(File.from_existing_remote("/no/such/file").exists())
            False
        """
        return await storage.exists(self.path)

    def exists_sync(self) -> bool:
        """Blocking variant of :meth:`exists`."""
        return storage.exists_sync(self.path)


def local_path_of(path: str) -> str:
    """Return the filesystem path of a local file reference."""
    return local_path(path)


def _open_options(
    path: str,
    block_size: int | None,
    cache_type: str,
    cache_options: dict[str, Any] | None,
    compression: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    if not is_remote(path):
        return {}
    options: dict[str, Any] = {"cache_type": cache_type, **extra}
    if block_size is not None:
        options["block_size"] = block_size
    if cache_options is not None:
        options["cache_options"] = cache_options
    if compression is not None:
        options["compression"] = compression
    return options


def _blob_literal(uri: str, fmt: str, dimensionality: int, hash_value: str | None) -> literals_pb2.Literal:
    blob_type = types_pb2.BlobType(format=fmt, dimensionality=dimensionality)  # type: ignore[arg-type]
    literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=uri, metadata=literals_pb2.BlobMetadata(type=blob_type)))
    )
    if hash_value:
        literal.hash = hash_value
    return literal


_Reference = TypeVar("_Reference", bound=BaseModel)


def reference_class(expected_python_type: Any, base: type[_Reference]) -> type[_Reference]:
    """Return the expected type when it is ``base`` or a subclass of it (``File["csv"]``...), else ``base``."""
    if isinstance(expected_python_type, type) and issubclass(expected_python_type, base):
        return expected_python_type
    return base


def blob_of(lv: literals_pb2.Literal, expected_python_type: Any) -> literals_pb2.Blob:
    """Return the blob of a blob literal (unwrapping a union), or raise for anything else."""
    scalar = lv.scalar
    if scalar.WhichOneof("value") == "union":
        return blob_of(scalar.union.value, expected_python_type)
    if scalar.WhichOneof("value") != "blob":
        raise TypeTransformerFailedError(
            f"Cannot read {type_name(expected_python_type)} from literal {_short_repr(lv, 200)}: not a blob"
        )
    return scalar.blob


class FileTransformer(TypeTransformer[File[Any]]):
    """Converts ``File`` values to single-part ``Blob`` literals and back.

    Example:
        >>> from flyte.types import TypeEngine
        >>> TypeEngine.to_literal_type(File).blob.dimensionality == types_pb2.BlobType.SINGLE
        True
    """

    def __init__(self) -> None:
        super().__init__("File", File)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(blob=types_pb2.BlobType(format="", dimensionality=types_pb2.BlobType.SINGLE))

    async def to_literal(
        self, python_val: File[Any], python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        if isinstance(python_val, (str, Path)):
            python_val = await File.from_local(python_val)
        if not isinstance(python_val, File):
            raise TypeTransformerFailedError(
                f"Expected a File, got {_short_repr(python_val)} of type {type_name(type(python_val))}"
            )
        path = python_val.path
        if needs_offload(path):
            path = await storage.put(local_path(path), random_remote_path(name_from_path(path)))
        return _blob_literal(path, python_val.format, types_pb2.BlobType.SINGLE, python_val.hash)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> File[Any]:
        blob = blob_of(lv, expected_python_type)
        if blob.metadata.type.dimensionality != types_pb2.BlobType.SINGLE:
            raise TypeTransformerFailedError(
                f"Expected a single-part blob for {type_name(expected_python_type)}, got a multi-part blob "
                f"(a directory) at {blob.uri}"
            )
        target = reference_class(expected_python_type, File)
        return target(path=blob.uri, format=blob.metadata.type.format, hash=lv.hash or None)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if (
            literal_type.WhichOneof("type") == "blob"
            and literal_type.blob.dimensionality == types_pb2.BlobType.SINGLE
            and literal_type.blob.format != "PythonPickle"
        ):
            return File
        raise ValueError(f"{self.name} cannot reverse {literal_type}")
