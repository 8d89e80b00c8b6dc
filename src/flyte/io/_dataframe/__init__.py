"""``DataFrame``: a lazy handle on tabular data stored as a ``StructuredDataset``.

A task that returns ``DataFrame.from_df(frame)`` writes the frame as parquet when its output is
converted; a task that receives a ``DataFrame`` reads nothing until it calls
``await df.open(pd.DataFrame).all()`` (or ``.iter()`` for part-by-part reading), so a handle can
be passed along a pipeline without moving the data.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from flyteidl2.core import literals_pb2, types_pb2
from mashumaro.types import SerializableType
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from flyte._internal.decoding import preserving_original_types
from flyte._internal.syncify import run_sync
from flyte.io._frame_codecs import (
    PARQUET,
    ColumnSpec,
    codec_for_value,
    columns_literal_type,
    columns_of,
    decode_frame,
    encode_frame,
    frame_class_for_tag,
    frame_type_name,
    iter_frames,
    structured_dataset_literal,
    structured_dataset_of,
)
from flyte.io._hashing import HashFunction, HashMethod, resolve
from flyte.types._type_engine import (
    TypeTransformer,
    TypeTransformerFailedError,
    _short_repr,
    coercion_allowed,
    type_name,
)

__all__ = ["DataFrame", "DataFrameTransformer"]

DF = TypeVar("DF")
_DEFAULT_FRAME = "pandas.DataFrame"


class DataFrame(BaseModel, SerializableType):
    """Tabular data passed between tasks by reference, readable as pandas, pyarrow or polars.

    Example:
        >>> import flyte
        >>> from flyte.io import DataFrame
        >>> env = flyte.TaskEnvironment(name="frames")
        >>> @env.task
        ... async def make() -> DataFrame:
        ...     import pandas as pd
        ...     return DataFrame.from_df(pd.DataFrame({"a": [1, 2]}))
        >>> @env.task
        ... async def total(df: DataFrame) -> int:
        ...     import pandas as pd
        ...     return int((await df.open(pd.DataFrame).all())["a"].sum())
    """

    model_config = ConfigDict(
        json_schema_extra={
            "description": "A tabular data reference backed by a remote file.",
            "x-flyte-type": "dataframe",
        }
    )

    uri: str | None = None
    """Where the data set lives (a directory of parquet files, or one file)."""
    format: str | None = ""
    """The storage format (``"parquet"``); empty when unknown."""
    hash: str | None = Field(default=None, exclude=True)
    """A cache key for the content; used in cache keys. It travels in the ``StructuredDataset``
    literal's ``hash``, not in dumps (a model or dataclass field holds ``uri`` and ``format``), as
    in Flyte 2."""

    _val: Any = PrivateAttr(default=None)
    _open_type: Any = PrivateAttr(default=None)
    _columns: ColumnSpec | None = PrivateAttr(default=None)
    _literal: literals_pb2.Literal | None = PrivateAttr(default=None)
    _metadata: literals_pb2.StructuredDatasetMetadata | None = PrivateAttr(default=None)

    @classmethod
    def schema_match(cls, incoming: dict[str, Any]) -> bool:
        """Return whether a JSON schema describes a ``DataFrame``.

        Example:
            >>> DataFrame.schema_match(DataFrame.model_json_schema())
            True
        """
        return incoming.get("x-flyte-type") == "dataframe" or (
            incoming.get("title") == "DataFrame" and "uri" in incoming.get("properties", {})
        )

    @classmethod
    def columns(cls) -> dict[str, type[Any]]:
        """The declared columns of this class (none for plain ``DataFrame``)."""
        return {}

    @classmethod
    def column_names(cls) -> list[str]:
        """The names of :meth:`columns`."""
        return list(cls.columns())

    @classmethod
    def from_df(cls, val: Any | None = None, uri: str | None = None) -> DataFrame:
        """Wrap an in-memory frame (written when the task's output is converted).

        Args:
            val: a pandas ``DataFrame``, pyarrow ``Table`` or polars ``DataFrame``.
            uri: where to write it; a fresh raw-data location when omitted.

        Example:
            >>> DataFrame.from_df(None, uri="s3://bucket/ds").uri
            's3://bucket/ds'
        """
        handle = cls(uri=uri)
        handle._val = val
        return handle

    @classmethod
    def wrap_df(cls, val: Any | None = None, uri: str | None = None) -> DataFrame:
        """Same as :meth:`from_df`."""
        return cls.from_df(val, uri)

    @classmethod
    def from_existing_remote(cls, remote_path: str, format: str | None = None, **kwargs: Any) -> DataFrame:
        """Reference an existing data set without reading it.

        Example:
            >>> DataFrame.from_existing_remote("s3://bucket/ds", format="parquet").format
            'parquet'
        """
        return cls(uri=remote_path, format=format or "", hash=kwargs.get("hash"))

    @classmethod
    async def from_local(
        cls,
        df: Any,
        columns: typing.OrderedDict[str, type[Any]] | None = None,
        remote_destination: str | None = None,
        hash_method: HashMethod | str | None = None,
    ) -> DataFrame:
        """Write a frame now and return a handle on the stored data set.

        Args:
            df: the frame.
            columns: the columns to declare.
            remote_destination: where to write it; a fresh raw-data location when omitted.
            hash_method: a precomputed hash, or a :class:`HashMethod` fed the frame.

        Example:
            >>> import pyarrow as pa  # doctest: +SKIP
            >>> handle = asyncio.run(DataFrame.from_local(pa.table({"a": [1]})))  # doctest: +SKIP
        """
        uri, fmt = await encode_frame(df, remote_destination, codec_for_value(df))
        handle = cls(uri=uri, format=fmt)
        handle._val = df
        handle._columns = list(columns.items()) if columns else None
        method = resolve(hash_method)
        if method is not None:
            if isinstance(method, HashFunction):
                method.update(df)
            handle.hash = method.result()
        return handle

    @classmethod
    def from_local_sync(
        cls,
        df: Any,
        columns: typing.OrderedDict[str, type[Any]] | None = None,
        remote_destination: str | None = None,
        hash_method: HashMethod | str | None = None,
    ) -> DataFrame:
        """Blocking variant of :meth:`from_local`."""
        return run_sync(cls.from_local(df, columns, remote_destination, hash_method))

    @property
    def val(self) -> Any:
        """The in-memory frame, when this handle wraps one."""
        return self._val

    @property
    def _raw_df(self) -> Any:
        """The in-memory frame (the name Flyte 2's plugin encoders read)."""
        return self._val

    @property
    def literal(self) -> literals_pb2.StructuredDataset | None:
        """The data set literal this handle was read from (or set with :meth:`set_literal`)."""
        return self._literal.scalar.structured_dataset if self._literal is not None else None

    @property
    def metadata(self) -> literals_pb2.StructuredDatasetMetadata | None:
        """The stored data set's metadata (format and declared columns), when known."""
        return self._metadata

    def open(self, dataframe_type: type[DF]) -> DataFrame:
        """Choose the frame class :meth:`all` and :meth:`iter` return; returns ``self``.

        Example:
            >>> DataFrame.from_existing_remote("s3://b/ds").open(dict) is not None
            True
        """
        self._open_type = dataframe_type
        return self

    def _target_name(self) -> str:
        if self._open_type is not None:
            return frame_type_name(self._open_type)
        if self._val is not None:
            return codec_for_value(self._val).type_name
        return _DEFAULT_FRAME

    def _matches_value(self) -> bool:
        if self._val is None:
            return False
        return self._open_type is None or isinstance(self._val, self._open_type)

    async def all(self) -> Any:
        """Read the whole data set as one frame of the class chosen with :meth:`open` (pandas by default).

        Example:
            >>> frame = asyncio.run(DataFrame.from_existing_remote("/tmp/ds").all())  # doctest: +SKIP
        """
        if self._matches_value():
            return self._val
        if not self.uri:
            raise TypeTransformerFailedError("This DataFrame has neither a value nor a uri to read")
        if self._open_type is not None:
            from flyte.io.extend import _ENGINE, has_decoder

            if has_decoder(self._open_type):  # a plugin's decoder (flyte.io.extend) reads it
                return await _ENGINE.decode(self._dataset(), self._open_type, self._columns)
        return await decode_frame(self.uri, self.format or PARQUET, self._target_name(), self._columns)

    def _dataset(self) -> literals_pb2.StructuredDataset:
        if self.literal is not None:
            return self.literal
        metadata = literals_pb2.StructuredDatasetMetadata(
            structured_dataset_type=columns_literal_type(self._columns, self.format or "")
        )
        return literals_pb2.StructuredDataset(uri=self.uri or "", metadata=metadata)

    def all_sync(self) -> Any:
        """Blocking variant of :meth:`all`."""
        return run_sync(self.all())

    async def iter(self) -> AsyncIterator[Any]:
        """Yield the data set part by part, each as a frame of the class chosen with :meth:`open`."""
        if self._matches_value():
            yield self._val
            return
        if not self.uri:
            raise TypeTransformerFailedError("This DataFrame has neither a value nor a uri to read")
        for frame in await iter_frames(self.uri, self.format or PARQUET, self._target_name(), self._columns):
            yield frame

    async def set_literal(self, expected: types_pb2.LiteralType) -> None:
        """Write the wrapped frame (if any) and remember the resulting literal."""
        del expected  # the declared columns are the handle's own
        self._literal = await self._to_literal(None)

    async def _to_literal(self, columns: ColumnSpec | None) -> literals_pb2.Literal:
        if self._literal is not None:
            return self._literal
        columns = columns or self._columns
        if self._val is not None and (not self.uri or not self.format):
            from flyte.io.extend import DataFrameTransformerEngine

            if DataFrameTransformerEngine._find(DataFrameTransformerEngine.ENCODERS, type(self._val), None, None):
                # A plugin's encoder (flyte.io.extend) writes this library's frames.
                literal = await DataFrameTransformerEngine()._encode(self._val, self.uri, columns, None)
                dataset = literal.scalar.structured_dataset
                self.uri, self.format = dataset.uri, dataset.metadata.structured_dataset_type.format
                if self.hash:
                    literal.hash = self.hash
                self._literal, self._metadata = literal, dataset.metadata
                return literal
            uri, fmt = await encode_frame(self._val, self.uri, codec_for_value(self._val))
            self.uri, self.format = uri, fmt
        if not self.uri:
            raise TypeTransformerFailedError("Cannot send a DataFrame with neither a value nor a uri")
        literal = structured_dataset_literal(self.uri, self.format or "", columns, self.hash)
        self._literal = literal
        self._metadata = literal.scalar.structured_dataset.metadata
        return literal

    def serialize_dataframe(self) -> dict[str, str | None]:
        """Return the fields that identify the stored data set, writing a wrapped frame first."""
        if self._val is not None and not self.uri:
            run_sync(self._to_literal(None))
        return {"uri": self.uri, "format": self.format}

    def deserialize_dataframe(self, info: Any) -> DataFrame:
        """Return ``self`` (the fields are already set); kept for Flyte 2 compatibility."""
        del info
        return self

    def _serialize(self) -> dict[str, str | None]:
        return self.serialize_dataframe()

    @classmethod
    def _deserialize(cls, value: dict[str, Any]) -> DataFrame:
        return cls.model_validate(value)


class DataFrameTransformer(TypeTransformer[DataFrame]):
    """Converts ``DataFrame`` handles (and ``Annotated[DataFrame, {"col": type}]``) to
    ``StructuredDataset`` literals and back.

    Example:
        >>> from flyte.types import TypeEngine
        >>> TypeEngine.to_literal_type(DataFrame).WhichOneof("type")
        'structured_dataset_type'
    """

    def __init__(self) -> None:
        super().__init__("DataFrame", DataFrame)

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        _, columns = columns_of(t)
        return types_pb2.LiteralType(structured_dataset_type=columns_literal_type(columns))

    async def to_literal(
        self, python_val: DataFrame, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        _, columns = columns_of(python_type)
        if not isinstance(python_val, DataFrame):
            try:
                if not coercion_allowed():
                    raise TypeTransformerFailedError("a frame is not a DataFrame handle")
                codec_for_value(python_val)
            except TypeTransformerFailedError:
                raise TypeTransformerFailedError(
                    f"Expected a DataFrame, got {_short_repr(python_val)} of type {type_name(type(python_val))}"
                ) from None
            python_val = DataFrame.from_df(python_val)
        return await python_val._to_literal(columns)

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> DataFrame:
        from flyte.storage import load_offloaded

        lv = await load_offloaded(lv)
        dataset = structured_dataset_of(lv, expected_python_type)
        _, columns = columns_of(expected_python_type)
        handle = DataFrame(
            uri=dataset.uri, format=dataset.metadata.structured_dataset_type.format, hash=lv.hash or None
        )
        handle._columns = columns
        handle._literal = lv
        handle._metadata = dataset.metadata
        return handle

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        if literal_type.WhichOneof("type") == "structured_dataset_type":
            # A task that declared pd.DataFrame tags the type with it; with preserve_original_types
            # a reader gets that class back instead of a DataFrame handle, as in Flyte 2.
            if preserving_original_types() and literal_type.structure.tag:
                original = frame_class_for_tag(literal_type.structure.tag)
                if original is not None:
                    return original
            return DataFrame
        raise ValueError(f"{self.name} cannot reverse {literal_type}")
