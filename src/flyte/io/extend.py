"""``flyte.io.extend``: teach :class:`flyte.io.DataFrame` a data frame library (encoders/decoders).

A plugin (``flyteplugins-polars``, ``-spark``) registers a :class:`DataFrameEncoder` that writes
one library's frame to a ``StructuredDataset`` and a :class:`DataFrameDecoder` that reads it back;
from then on tasks can take and return that library's frames (``pl.DataFrame``), and
``DataFrame.open(pl.DataFrame).all()`` returns them. Without a registered encoder/decoder the
SDK's own parquet codecs (pandas, pyarrow, polars) are used, so both write the same data sets: a
directory of parquet part files.

Example:
    >>> class CsvToDict(DataFrameDecoder):  # doctest: +SKIP
    ...     def __init__(self):
    ...         super().__init__(dict, None, "csv")
    ...     async def decode(self, flyte_value, current_task_metadata):
    ...         ...
    >>> DataFrameTransformerEngine.register(CsvToDict())  # doctest: +SKIP
"""

from __future__ import annotations

import abc
import threading
import typing
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from flyte.io._frame_codecs import (
    PARQUET,
    columns_literal_type,
    columns_of,
    frame_type_name,
    resolve_frame_type,
    structured_dataset_of,
)
from flyte.types._type_engine import TypeEngine, TypeTransformer, TypeTransformerFailedError, _short_repr, type_name

__all__ = ["DataFrameDecoder", "DataFrameEncoder", "DataFrameTransformerEngine"]

_ANY = ""
"""The key for "any protocol" / "any format" of a handler registered without one."""


class _Handler:
    def __init__(
        self,
        python_type: type | None = None,
        protocol: str | None = None,
        supported_format: str | None = None,
    ) -> None:
        self._python_type = python_type
        self._protocol = protocol.replace("://", "") if protocol else None
        self._supported_format = supported_format or ""

    @property
    def python_type(self) -> type:
        """The frame class handled (``pl.DataFrame``)."""
        return typing.cast(type, self._python_type)

    @property
    def protocol(self) -> str | None:
        """The storage protocol handled (``"s3"``, ``"file"``), ``None`` for any."""
        return self._protocol

    @property
    def supported_format(self) -> str:
        """The storage format handled (``"parquet"``), ``""`` for any."""
        return self._supported_format


class DataFrameEncoder(_Handler, abc.ABC):
    """Writes one library's frames as a ``StructuredDataset``.

    Args:
        python_type: the frame class it writes.
        protocol: the storage protocol it writes to (``None``: any).
        supported_format: the format it writes (``"parquet"``).
    """

    @abc.abstractmethod
    async def encode(
        self, dataframe: Any, structured_dataset_type: types_pb2.StructuredDatasetType
    ) -> literals_pb2.StructuredDataset:
        """Write ``dataframe.val`` (a :class:`flyte.io.DataFrame` wrapping the frame; its ``uri`` is
        where to write, or empty for a fresh location) and return the data set's literal."""


class DataFrameDecoder(_Handler, abc.ABC):
    """Reads a ``StructuredDataset`` as one library's frames.

    Args:
        python_type: the frame class it returns.
        protocol: the storage protocol it reads from (``None``: any).
        supported_format: the format it reads (``"parquet"``).
        additional_protocols: more protocols it reads from.
    """

    def __init__(
        self,
        python_type: type | None = None,
        protocol: str | None = None,
        supported_format: str | None = None,
        additional_protocols: list[str] | None = None,
    ) -> None:
        super().__init__(python_type, protocol, supported_format)
        self._additional_protocols = [p.replace("://", "") for p in additional_protocols or []]

    @abc.abstractmethod
    async def decode(
        self,
        flyte_value: literals_pb2.StructuredDataset,
        current_task_metadata: literals_pb2.StructuredDatasetMetadata,
    ) -> Any:
        """Read the data set ``flyte_value`` (only the columns ``current_task_metadata`` declares,
        when it declares any) and return a frame."""


_Table = dict[type, dict[str, dict[str, Any]]]


class DataFrameTransformerEngine(TypeTransformer[Any]):
    """The registry of data frame encoders and decoders, and the transformer of the frame types
    they handle.

    Registering an encoder or decoder for a class makes tasks that declare that class convert it
    with the registered handlers (a frame class the SDK already knows, such as ``pl.DataFrame``,
    switches to the plugin's handlers). Instances convert like any transformer, which is how a
    plugin's own transformer (pandera's) delegates the storage part.
    """

    ENCODERS: typing.ClassVar[_Table] = {}
    DECODERS: typing.ClassVar[_Table] = {}
    DEFAULT_PROTOCOLS: typing.ClassVar[dict[type, str]] = {}
    DEFAULT_FORMATS: typing.ClassVar[dict[type, str]] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__("DataFrame Transformer", object, enable_type_assertions=False)

    # --- registry ---------------------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        h: DataFrameEncoder | DataFrameDecoder,
        default_for_type: bool = False,
        override: bool = False,
        default_format_for_type: bool = False,
        default_storage_for_type: bool = False,
    ) -> None:
        """Register an encoder or decoder for its class, protocol and format.

        Args:
            h: the handler.
            default_for_type: make its format and protocol the class's defaults.
            override: replace a handler already registered for the same key (otherwise that
                raises ``ValueError``).
            default_format_for_type: make its format the class's default.
            default_storage_for_type: make its protocol the class's default.

        Raises:
            TypeError: ``h`` is neither an encoder nor a decoder, or has no class.
            ValueError: a handler is already registered for the key and ``override`` is false.
        """
        if isinstance(h, DataFrameEncoder):
            table = cls.ENCODERS
        elif isinstance(h, DataFrameDecoder):
            table = cls.DECODERS
        else:
            raise TypeError(f"Expected a DataFrameEncoder or DataFrameDecoder, got {h!r}")
        if not isinstance(h.python_type, type):
            raise TypeError(f"{type(h).__name__} handles no class (python_type is {h.python_type!r})")
        protocols = [h.protocol or _ANY]
        if isinstance(h, DataFrameDecoder):
            protocols += h._additional_protocols
        with cls._lock:
            formats = table.setdefault(h.python_type, {})
            for protocol in protocols:
                by_format = formats.setdefault(protocol, {})
                if h.supported_format in by_format and not override:
                    existing = by_format[h.supported_format]
                    if type(existing) is not type(h):
                        raise ValueError(
                            f"A {type(existing).__name__} is already registered for {type_name(h.python_type)} "
                            f"({protocol or 'any protocol'}, {h.supported_format or 'any format'}); "
                            "pass override=True to replace it"
                        )
                by_format[h.supported_format] = h
            if (default_for_type or default_format_for_type) and h.supported_format:
                cls.DEFAULT_FORMATS[h.python_type] = h.supported_format
            if (default_for_type or default_storage_for_type) and h.protocol:
                cls.DEFAULT_PROTOCOLS[h.python_type] = h.protocol
        # The class now converts through the engine (an exact registration wins over the SDK's
        # own frame codecs).
        TypeEngine._registry[h.python_type] = _ENGINE
        TypeEngine._clear_caches()

    @classmethod
    def _find(cls, table: _Table, df_type: type, protocol: str | None, fmt: str | None) -> Any:
        for klass in df_type.__mro__ if isinstance(df_type, type) else ():
            formats = table.get(klass)
            if not formats:
                continue
            wanted_format = fmt or cls.DEFAULT_FORMATS.get(klass, "")
            for proto in dict.fromkeys([protocol or _ANY, _ANY, *formats]):
                by_format = formats.get(proto or _ANY)
                if not by_format:
                    continue
                for candidate in dict.fromkeys([wanted_format, PARQUET, _ANY, *by_format]):
                    if candidate in by_format:
                        return by_format[candidate]
        return None

    @classmethod
    def get_encoder(cls, df_type: type, protocol: str | None = None, format: str | None = None) -> DataFrameEncoder:
        """The encoder for ``df_type`` (or a base class), preferring ``protocol`` and ``format``.

        Raises:
            ValueError: none is registered.
        """
        found = cls._find(cls.ENCODERS, df_type, protocol, format)
        if found is None:
            raise ValueError(f"No DataFrameEncoder registered for {type_name(df_type)}")
        return typing.cast(DataFrameEncoder, found)

    @classmethod
    def get_decoder(cls, df_type: type, protocol: str | None = None, format: str | None = None) -> DataFrameDecoder:
        """The decoder for ``df_type`` (or a base class), preferring ``protocol`` and ``format``.

        Raises:
            ValueError: none is registered.
        """
        found = cls._find(cls.DECODERS, df_type, protocol, format)
        if found is None:
            raise ValueError(f"No DataFrameDecoder registered for {type_name(df_type)}")
        return typing.cast(DataFrameDecoder, found)

    # --- transformer -------------------------------------------------------------------------------

    def assert_type(self, t: Any, v: Any) -> None:
        return None

    def get_literal_type(self, t: Any = None) -> types_pb2.LiteralType:
        inner, columns = columns_of(t)
        if isinstance(inner, type) and _is_handle(inner):
            return TypeEngine.to_literal_type(t)
        literal_type = types_pb2.LiteralType(structured_dataset_type=columns_literal_type(columns))
        if isinstance(inner, type):
            literal_type.structure.tag = frame_type_name(inner)
        return literal_type

    async def to_literal(
        self, python_val: Any, python_type: Any, expected: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        from flyte.io._dataframe import DataFrame

        inner, columns = columns_of(python_type)
        if isinstance(python_val, DataFrame):
            value = python_val.val
            if value is None or python_val._literal is not None or (python_val.uri and python_val.format):
                return await python_val._to_literal(columns)
            return await self._encode(value, python_val.uri, columns, expected)
        if python_val is None:
            raise TypeTransformerFailedError(f"Expected a data frame of type {type_name(inner)}, got None")
        return await self._encode(python_val, None, columns, expected)

    async def _encode(
        self, frame: Any, uri: str | None, columns: Any, expected: types_pb2.LiteralType | None
    ) -> literals_pb2.Literal:
        from flyte.io._dataframe import DataFrame

        fmt = expected.structured_dataset_type.format if expected is not None else ""
        encoder = self._find(self.ENCODERS, type(frame), _protocol(uri), fmt)
        if encoder is None:
            native = resolve_frame_type(type(frame))
            if native is None:
                raise TypeTransformerFailedError(
                    f"No encoder for data frames of type {type_name(type(frame))} ({_short_repr(frame)})"
                )
            handle = DataFrame.from_df(frame, uri=uri)
            return await handle._to_literal(columns)
        sd_type = columns_literal_type(columns)
        handle = DataFrame.from_df(frame, uri=uri)
        dataset = await encoder.encode(handle, sd_type)
        if not isinstance(dataset, literals_pb2.StructuredDataset):
            raise TypeTransformerFailedError(
                f"{type(encoder).__name__}.encode returned {type(dataset).__name__}, not a StructuredDataset"
            )
        if not dataset.metadata.structured_dataset_type.columns and sd_type.columns:
            dataset.metadata.structured_dataset_type.columns.extend(sd_type.columns)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(structured_dataset=dataset))

    async def to_python_value(self, lv: literals_pb2.Literal, expected_python_type: Any) -> Any:
        from flyte.storage import load_offloaded

        inner, columns = columns_of(expected_python_type)
        if isinstance(inner, type) and _is_handle(inner):
            return await TypeEngine.get_transformer(expected_python_type).to_python_value(lv, expected_python_type)
        lv = await load_offloaded(lv)
        dataset = structured_dataset_of(lv, expected_python_type)
        return await self.decode(dataset, inner, columns)

    async def decode(self, dataset: literals_pb2.StructuredDataset, df_type: type, columns: Any = None) -> Any:
        """Read ``dataset`` as a ``df_type`` (a registered decoder, else the SDK's own codec)."""
        fmt = dataset.metadata.structured_dataset_type.format
        decoder = self._find(self.DECODERS, df_type, _protocol(dataset.uri), fmt)
        if decoder is None:
            from flyte.io._frame_codecs import decode_frame

            return await decode_frame(dataset.uri, fmt or PARQUET, frame_type_name(df_type), columns)
        metadata = literals_pb2.StructuredDatasetMetadata(structured_dataset_type=columns_literal_type(columns))
        if not columns:
            metadata.structured_dataset_type.format = fmt
        return await decoder.decode(dataset, metadata)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        from flyte.io._dataframe import DataFrame

        if literal_type.WhichOneof("type") == "structured_dataset_type":
            return DataFrame
        raise ValueError(f"{self.name} cannot reverse {literal_type}")


def _is_handle(t: type) -> bool:
    from flyte.io._dataframe import DataFrame

    return issubclass(t, DataFrame)


def _protocol(uri: str | None) -> str | None:
    if not uri:
        from flyte.storage._filesystem import raw_data_prefix

        uri = raw_data_prefix()
    scheme, separator, _ = uri.partition("://")
    return scheme if separator else "file"


def has_decoder(df_type: type) -> bool:
    """Whether a decoder is registered for ``df_type`` (or a base class)."""
    return DataFrameTransformerEngine._find(DataFrameTransformerEngine.DECODERS, df_type, None, None) is not None


_ENGINE = DataFrameTransformerEngine()
