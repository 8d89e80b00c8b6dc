"""Reading and writing data frame libraries' objects as parquet, and their transformers.

A :class:`FrameCodec` writes one library's frame (pandas ``DataFrame``, pyarrow ``Table``,
polars ``DataFrame``) to a ``StructuredDataset`` location and reads it back. As Flyte 2 does, a
data set is a directory holding parquet part files (one file, ``00000``, when we write it);
a location that is a single parquet file is read too.

Codecs are registered by the frame type's *name* (``"pandas.DataFrame"``), so nothing here
imports pandas, pyarrow or polars until a value of that type is converted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import typing
from dataclasses import dataclass
from typing import Any, Protocol

from flyteidl2.core import literals_pb2, types_pb2

from flyte import storage
from flyte.storage._filesystem import get_random_local_directory, is_remote, local_path, random_remote_path
from flyte.types._type_engine import (
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    coercion_allowed,
    type_name,
)

__all__ = [
    "PARQUET",
    "PART_FILE_NAME",
    "FrameCodec",
    "RawFrameTransformer",
    "codec_for_type",
    "codec_for_value",
    "columns_literal_type",
    "decode_frame",
    "encode_frame",
    "frame_class_for_tag",
    "frame_type_name",
    "iter_frames",
    "register_frame_codec",
    "resolve_frame_type",
]

PARQUET = "parquet"
"""The format name of parquet data sets."""
PART_FILE_NAME = "00000"
"""The name of the single part file written into a data set directory."""

ColumnSpec = list[tuple[str, Any]]


class FrameCodec(Protocol):
    """Writes and reads one data frame library's objects in one format.

    Example:
        >>> codec_for_type("pandas.DataFrame").format
        'parquet'
    """

    @property
    def type_name(self) -> str:
        """The fully qualified name of the frame class, e.g. ``"pandas.DataFrame"``."""

    @property
    def format(self) -> str:
        """The storage format, e.g. ``"parquet"``."""

    def python_type(self) -> type:
        """Import and return the frame class."""

    def write(self, frame: Any, path: str) -> None:
        """Write ``frame`` to the local file ``path``."""

    def read(self, paths: list[str], columns: list[str] | None) -> Any:
        """Read local part files into one frame, keeping only ``columns`` when given."""


def frame_type_name(t: type) -> str:
    """Return the name codecs are registered under: ``module.QualName`` of the class.

    Example:
        >>> frame_type_name(dict)
        'builtins.dict'
    """
    return f"{t.__module__}.{t.__qualname__}"


@dataclass(frozen=True)
class _PandasParquet:
    type_name: str = "pandas.DataFrame"
    format: str = PARQUET

    def python_type(self) -> type:
        import pandas as pd

        return typing.cast("type", pd.DataFrame)

    def write(self, frame: Any, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame), path)

    def read(self, paths: list[str], columns: list[str] | None) -> Any:
        return _PyarrowParquet().read(paths, columns).to_pandas()


@dataclass(frozen=True)
class _PyarrowParquet:
    type_name: str = "pyarrow.lib.Table"
    format: str = PARQUET

    def python_type(self) -> type:
        import pyarrow as pa

        return typing.cast("type", pa.Table)

    def write(self, frame: Any, path: str) -> None:
        import pyarrow.parquet as pq

        pq.write_table(frame, path)

    def read(self, paths: list[str], columns: list[str] | None) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(path, columns=columns) for path in paths]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


@dataclass(frozen=True)
class _PolarsParquet:
    type_name: str = "polars.dataframe.frame.DataFrame"
    format: str = PARQUET

    def python_type(self) -> type:
        import polars as pl

        return typing.cast("type", pl.DataFrame)

    def write(self, frame: Any, path: str) -> None:
        frame.write_parquet(path)

    def read(self, paths: list[str], columns: list[str] | None) -> Any:
        import polars as pl

        frames = [pl.read_parquet(path, columns=columns) for path in paths]
        return frames[0] if len(frames) == 1 else pl.concat(frames)


_CODECS: dict[tuple[str, str], FrameCodec] = {}
_ALIASES = {"pandas.core.frame.DataFrame": "pandas.DataFrame", "pyarrow.Table": "pyarrow.lib.Table"}


def register_frame_codec(codec: FrameCodec) -> None:
    """Register ``codec`` for its ``(type_name, format)``; a later registration replaces an earlier one.

    Example:
        >>> register_frame_codec(_PandasParquet())
    """
    _CODECS[(codec.type_name, codec.format)] = codec


register_frame_codec(_PandasParquet())
register_frame_codec(_PyarrowParquet())
register_frame_codec(_PolarsParquet())


def codec_for_type(name: str, fmt: str = PARQUET) -> FrameCodec:
    """Return the codec for the frame class called ``name`` in format ``fmt`` (parquet when empty).

    Raises:
        TypeTransformerFailedError: no codec is registered.

    Example:
        >>> codec_for_type("pyarrow.lib.Table").type_name
        'pyarrow.lib.Table'
    """
    name = _ALIASES.get(name, name)
    codec = _CODECS.get((name, fmt or PARQUET))
    if codec is None:
        raise TypeTransformerFailedError(f"No data frame codec for {name} in format {fmt or PARQUET!r}")
    return codec


def codec_for_value(value: Any) -> FrameCodec:
    """Return the parquet codec for a frame value, looking through its class's bases.

    Example:
        >>> codec_for_value(object())
        Traceback (most recent call last):
        ...
        flyte.types._type_engine.TypeTransformerFailedError: No data frame codec for builtins.object in format 'parquet'
    """
    for klass in type(value).__mro__:
        name = _ALIASES.get(frame_type_name(klass), frame_type_name(klass))
        if (name, PARQUET) in _CODECS:
            return _CODECS[(name, PARQUET)]
    return codec_for_type(frame_type_name(type(value)))


def _column_names(columns: ColumnSpec | None) -> list[str] | None:
    return [name for name, _ in columns] if columns else None


def _write_local(codec: FrameCodec, frame: Any, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    codec.write(frame, os.path.join(directory, PART_FILE_NAME))


async def encode_frame(frame: Any, uri: str | None = None, codec: FrameCodec | None = None) -> tuple[str, str]:
    """Write ``frame`` as a data set at ``uri`` (a fresh raw-data location when omitted).

    Returns:
        ``(uri, format)`` of the written data set.

    Example:
        >>> import pandas as pd  # doctest: +SKIP
        >>> uri, fmt = asyncio.run(encode_frame(pd.DataFrame({"a": [1]})))  # doctest: +SKIP
    """
    codec = codec or codec_for_value(frame)
    destination = uri or random_remote_path()
    if not is_remote(destination):
        await asyncio.to_thread(_write_local, codec, frame, local_path(destination))
        return destination, codec.format
    scratch = str(get_random_local_directory())
    try:
        await asyncio.to_thread(_write_local, codec, frame, scratch)
        await storage.put(scratch, destination, recursive=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return destination, codec.format


def _part_files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    found: list[str] = []
    for directory, subdirectories, names in os.walk(path):
        subdirectories.sort()
        found.extend(os.path.join(directory, name) for name in sorted(names) if not name.startswith(("_", ".")))
    if not found:
        raise TypeTransformerFailedError(f"No data files in data set {path}")
    return found


async def _local_parts(uri: str) -> list[str]:
    if not is_remote(uri):
        return _part_files(local_path(uri))
    fs = storage.get_underlying_filesystem(path=uri)
    is_directory = await asyncio.to_thread(fs.isdir, uri)
    local = await storage.get(uri, recursive=is_directory)
    return _part_files(local)


async def decode_frame(uri: str, fmt: str, type_name_: str, columns: ColumnSpec | None = None) -> Any:
    """Read the data set at ``uri`` as a frame of the class named ``type_name_``.

    Example:
        >>> frame = asyncio.run(decode_frame("s3://bucket/ds", "parquet", "pandas.DataFrame"))  # doctest: +SKIP
    """
    codec = codec_for_type(type_name_, fmt)
    parts = await _local_parts(uri)
    return await asyncio.to_thread(codec.read, parts, _column_names(columns))


async def iter_frames(uri: str, fmt: str, type_name_: str, columns: ColumnSpec | None = None) -> list[Any]:
    """Read the data set at ``uri`` part by part, one frame per part file."""
    codec = codec_for_type(type_name_, fmt)
    parts = await _local_parts(uri)
    names = _column_names(columns)
    return [await asyncio.to_thread(codec.read, [part], names) for part in parts]


def columns_literal_type(columns: ColumnSpec | None, fmt: str = "") -> types_pb2.StructuredDatasetType:
    """Return the ``StructuredDatasetType`` declaring ``columns`` (name, Python type) in ``fmt``.

    Example:
        >>> [c.name for c in columns_literal_type([("a", int)]).columns]
        ['a']
    """
    declared = [
        types_pb2.StructuredDatasetType.DatasetColumn(name=name, literal_type=TypeEngine.to_literal_type(t))
        for name, t in (columns or [])
    ]
    return types_pb2.StructuredDatasetType(columns=declared, format=fmt)


def columns_of(annotation: Any) -> tuple[Any, ColumnSpec | None]:
    """Split ``Annotated[T, {"col": type, ...}]`` into ``T`` and the column list.

    Example:
        >>> columns_of(typing.Annotated[dict, {"a": int}])
        (<class 'dict'>, [('a', <class 'int'>)])
    """
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, None
    inner, *metadata = typing.get_args(annotation)
    for item in metadata:
        if isinstance(item, dict) and item:
            return inner, list(item.items())
    return inner, None


def structured_dataset_literal(
    uri: str, fmt: str, columns: ColumnSpec | None, hash_value: str | None = None
) -> literals_pb2.Literal:
    """Return the ``StructuredDataset`` literal of the data set at ``uri``."""
    metadata = literals_pb2.StructuredDatasetMetadata(structured_dataset_type=columns_literal_type(columns, fmt))
    literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(structured_dataset=literals_pb2.StructuredDataset(uri=uri, metadata=metadata))
    )
    if hash_value:
        literal.hash = hash_value
    return literal


def structured_dataset_of(lv: literals_pb2.Literal, expected: Any) -> literals_pb2.StructuredDataset:
    """Return the data set of a ``StructuredDataset`` literal (unwrapping a union)."""
    scalar = lv.scalar
    if scalar.WhichOneof("value") == "union":
        return structured_dataset_of(scalar.union.value, expected)
    if scalar.WhichOneof("value") != "structured_dataset":
        raise TypeTransformerFailedError(
            f"Cannot read {type_name(expected)} from literal {_short_repr(lv, 200)}: not a structured dataset"
        )
    return scalar.structured_dataset


class RawFrameTransformer(TypeTransformer[Any]):
    """Converts a library's frame (``pd.DataFrame``, ``pa.Table``, ``pl.DataFrame``) declared
    directly on a task to a parquet ``StructuredDataset`` literal, and back.

    Example:
        >>> RawFrameTransformer("pandas.DataFrame").get_literal_type().structure.tag
        'pandas.DataFrame'
    """

    def __init__(self, frame_type_name_: str, frame_type: Any = None) -> None:
        super().__init__(frame_type_name_, frame_type if frame_type is not None else object)
        self._frame_type_name = frame_type_name_
        # The tag names the class where it is defined, as Flyte 2 writes it.
        self._tag = frame_type_name(frame_type) if isinstance(frame_type, type) else frame_type_name_

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        _, columns = columns_of(t)
        return types_pb2.LiteralType(
            structured_dataset_type=columns_literal_type(columns),
            structure=types_pb2.TypeStructure(tag=self._tag),
        )

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        inner, columns = columns_of(python_type)
        if isinstance(inner, type) and not isinstance(python_val, inner):
            # A flyte.io.DataFrame handle, or another library's frame, is stored as a data set too,
            # and the task reads it back as the declared class (as Flyte 2 does for the handle).
            if not coercion_allowed():
                raise _not_a(inner, python_val)
            from flyte.io._dataframe import DataFrame

            if isinstance(python_val, DataFrame):
                return await python_val._to_literal(columns)
            try:
                codec = codec_for_value(python_val)
            except TypeTransformerFailedError:
                raise _not_a(inner, python_val) from None
            uri, fmt = await encode_frame(python_val, codec=codec)
            return structured_dataset_literal(uri, fmt, columns)
        uri, fmt = await encode_frame(python_val, codec=codec_for_value(python_val))
        return structured_dataset_literal(uri, fmt, columns)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        from flyte.storage import load_offloaded

        lv = await load_offloaded(lv)
        dataset = structured_dataset_of(lv, expected_python_type)
        _, columns = columns_of(expected_python_type)
        fmt = dataset.metadata.structured_dataset_type.format
        return await decode_frame(dataset.uri, fmt, self._frame_type_name, columns)


def _not_a(expected: Any, value: Any) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(
        f"Expected a {type_name(expected)}, got {_short_repr(value)} of type {type_name(type(value))}"
    )


def frame_class_for_tag(tag: str) -> type | None:
    """The frame class a data frame literal type's ``structure.tag`` names, if a codec knows it.

    Example:
        >>> frame_class_for_tag("builtins.int") is None
        True
    """
    name = _ALIASES.get(tag, tag)
    for (type_name_, _), codec in _CODECS.items():
        if type_name_ == name:
            try:
                return codec.python_type()
            except ImportError:
                return None
    return None


_RAW_TRANSFORMERS: dict[str, RawFrameTransformer] = {}


def resolve_frame_type(t: Any) -> TypeTransformer[Any] | None:
    """Return the transformer for a frame class with a registered codec (or ``Annotated`` of one).

    Example:
        >>> resolve_frame_type(int) is None
        True
    """
    inner, _ = columns_of(t)
    if not isinstance(inner, type):
        return None
    for klass in inner.__mro__:
        name = _ALIASES.get(frame_type_name(klass), frame_type_name(klass))
        if any(key[0] == name for key in _CODECS):
            transformer = _RAW_TRANSFORMERS.get(name)
            if transformer is None:
                transformer = _RAW_TRANSFORMERS[name] = RawFrameTransformer(name, klass)
            return transformer
    return None
