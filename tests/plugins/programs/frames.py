"""Polars frames and pandera-validated frames between tasks (run by either SDK, in local mode)."""

import json

import pandera.polars as pa
import pandera.typing.polars as pt
import polars as pl

import flyte
import flyte.io

env = flyte.TaskEnvironment(name="frames")


class Sales(pa.DataFrameModel):
    item: str
    qty: int = pa.Field(ge=0)


@env.task
async def make(n: int) -> pl.DataFrame:
    return pl.DataFrame({"item": [f"i{k}" for k in range(n)], "qty": list(range(n))})


@env.task
async def total(df: pl.DataFrame) -> int:
    return int(df["qty"].sum())


@env.task
async def validated(df: pl.DataFrame, bad: bool) -> pt.DataFrame[Sales]:
    return df.with_columns((pl.col("qty") * (-1 if bad else 1)).alias("qty"))


@env.task
async def consume(df: pt.DataFrame[Sales]) -> int:
    return df.height


@env.task
async def lazy(df: pl.DataFrame) -> pl.LazyFrame:
    return df.lazy().filter(pl.col("qty") > 1)


@env.task
async def main(n: int, bad: bool = False) -> tuple[int, int, int]:
    df = await make(n)
    v = await validated(df, bad)
    lz = await lazy(df)
    return await total(df), await consume(v), lz.collect().height


@env.task
async def via_handle(df: pl.DataFrame) -> flyte.io.DataFrame:
    return flyte.io.DataFrame.from_df(df)


@env.task
async def open_handle(handle: flyte.io.DataFrame) -> list[str]:
    frame = await handle.open(pl.DataFrame).all()
    return [type(frame).__module__.split(".")[0], *frame.columns]


if __name__ == "__main__":
    flyte.init()
    report = {}
    report["good"] = list(flyte.run(main, n=5).outputs())
    report["handle"] = flyte.run(
        open_handle, handle=flyte.run(via_handle, df=pl.DataFrame({"x": [1]})).outputs()[0]
    ).outputs()[0]
    try:
        flyte.run(main, n=5, bad=True)
        report["bad"] = "no error"
    except Exception as error:  # the SDKs raise their own error types; the message names the check
        report["bad"] = "greater_than_or_equal_to(0)" in str(error)
    print("REPORT " + json.dumps(report))
