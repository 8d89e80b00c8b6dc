"""The private path ``flyte.io._dataframe.dataframe``, which ``flyteplugins-polars``, ``-pandera`` and
``-spark`` import ``DataFrame``, ``PARQUET`` and ``DataFrameTransformerEngine`` from.

The public names are :mod:`flyte.io` and :mod:`flyte.io.extend`; this module only re-exports them.
"""

from flyte.io._dataframe import DataFrame
from flyte.io._frame_codecs import PARQUET
from flyte.io.extend import DataFrameDecoder, DataFrameEncoder, DataFrameTransformerEngine

__all__ = ["PARQUET", "DataFrame", "DataFrameDecoder", "DataFrameEncoder", "DataFrameTransformerEngine"]
