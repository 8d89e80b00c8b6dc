"""Registers the ``flyte.io`` transformers with the type engine, once.

``File``, ``Dir`` and ``DataFrame`` are registered by class. Data frame libraries' own classes
(pandas, pyarrow, polars) are recognised by a resolver that looks at a type's module and name,
so neither registering nor importing ``flyte.io`` imports those libraries.
"""

from __future__ import annotations

import typing
from typing import Any

from flyte.io._dataframe import DataFrame, DataFrameTransformer
from flyte.io._dir import Dir, DirTransformer
from flyte.io._file import File, FileTransformer
from flyte.io._frame_codecs import columns_of, resolve_frame_type
from flyte.types._type_engine import TypeEngine, TypeTransformer

__all__ = ["register_io_transformers", "resolve_io_type"]

_DATAFRAME = DataFrameTransformer()
_FILE = FileTransformer()
_DIR = DirTransformer()
_registered = False


def resolve_io_type(t: Any) -> TypeTransformer[Any] | None:
    """Return the transformer for ``File``/``Dir``/``DataFrame`` subclasses (``File["csv"]``, which
    would otherwise look like any pydantic model), ``Annotated`` data frames and data frame
    library classes.

    Example:
        >>> import typing
        >>> resolve_io_type(typing.Annotated[DataFrame, {"a": int}]).name
        'DataFrame'
    """
    if isinstance(t, type):
        if issubclass(t, File):
            return _FILE
        if issubclass(t, Dir):
            return _DIR
        if issubclass(t, DataFrame):
            return _DATAFRAME
    inner, _ = columns_of(t)
    if typing.get_origin(t) is typing.Annotated and isinstance(inner, type) and issubclass(inner, DataFrame):
        return _DATAFRAME
    return resolve_frame_type(t)


def register_io_transformers() -> None:
    """Register the File, Dir and DataFrame transformers and the frame-library resolver."""
    global _registered
    if _registered:
        return
    _registered = True
    for transformer in (_FILE, _DIR, _DATAFRAME):
        TypeEngine.register(transformer)
        TypeEngine.register_guesser(transformer)
    # Before the Annotated resolver (priority 0), which would drop the declared columns.
    TypeEngine.register_resolver(resolve_io_type, priority=-10)
