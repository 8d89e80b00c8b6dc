"""Files, directories and data frames passed between tasks by reference.

:class:`File` and :class:`Dir` refer to data in local or object storage; :class:`DataFrame` is a
lazy handle on tabular data readable as pandas, pyarrow or polars. Tasks may also declare
``pd.DataFrame``, ``pa.Table`` or ``pl.DataFrame`` directly. Importing this package does not
import any data frame library.

Example:
    >>> import flyte
    >>> from flyte.io import File
    >>> env = flyte.TaskEnvironment(name="io")
    >>> @env.task
    ... async def size(f: File) -> int:
    ...     async with f.open("rb") as fh:
    ...         return len(await fh.read())
"""

from __future__ import annotations

from flyte.io._dataframe import DataFrame
from flyte.io._dir import Dir, EmptyDir
from flyte.io._file import File
from flyte.io._frame_codecs import PARQUET
from flyte.io._hashing import HashFunction, HashMethod
from flyte.io._registration import register_io_transformers

__all__ = ["PARQUET", "DataFrame", "Dir", "EmptyDir", "File", "HashFunction", "HashMethod"]

register_io_transformers()
