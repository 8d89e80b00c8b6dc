"""Tasks passing pandas, pyarrow and polars frames (and DataFrame handles) in local mode."""

from __future__ import annotations

import pytest

import flyte
from flyte.io import DataFrame

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")

env = flyte.TaskEnvironment(name="frame_tasks")


@env.task
async def make() -> pd.DataFrame:
    return pd.DataFrame({"v": [1, 2, 3, 4]})


@env.task
async def to_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df)


@env.task
async def to_polars(table: pa.Table) -> pl.DataFrame:
    return pl.from_arrow(table)


@env.task
async def wrap(frame: pl.DataFrame) -> DataFrame:
    return DataFrame.from_df(frame)


@env.task
async def total(df: DataFrame) -> int:
    return int((await df.open(pd.DataFrame).all())["v"].sum())


@env.task
async def pipeline() -> int:
    return await total(await wrap(await to_polars(await to_arrow(await make()))))


def test_frames_flow_between_tasks() -> None:
    assert flyte.run(pipeline).outputs()[0] == 10
