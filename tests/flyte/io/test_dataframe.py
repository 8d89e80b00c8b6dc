"""DataFrame handles and raw pandas / pyarrow / polars frames through the TypeEngine."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from flyteidl2.core import types_pb2

from flyte.io import PARQUET, DataFrame
from flyte.types import TypeEngine, TypeTransformerFailedError

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")


def _frame() -> typing.Any:
    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


@pytest.mark.parametrize(
    ("frame_type", "make", "tag"),
    [
        (pd.DataFrame, _frame, f"{pd.DataFrame.__module__}.DataFrame"),
        (pa.Table, lambda: pa.Table.from_pandas(_frame()), "pyarrow.lib.Table"),
        (pl.DataFrame, lambda: pl.from_pandas(_frame()), "polars.dataframe.frame.DataFrame"),
    ],
)
async def test_raw_frames_round_trip_as_parquet(frame_type: typing.Any, make: typing.Any, tag: str) -> None:
    lt = TypeEngine.to_literal_type(frame_type)
    assert lt.structure.tag == tag
    assert lt.structured_dataset_type == types_pb2.StructuredDatasetType()
    literal = await TypeEngine.to_literal(make(), frame_type, lt)
    dataset = literal.scalar.structured_dataset
    assert dataset.metadata.structured_dataset_type.format == PARQUET
    assert sorted(p.name for p in Path(dataset.uri).iterdir()) == ["00000"]
    back = await TypeEngine.to_python_value(literal, frame_type)
    assert isinstance(back, frame_type)
    as_pandas = back if isinstance(back, pd.DataFrame) else back.to_pandas()
    pd.testing.assert_frame_equal(as_pandas.reset_index(drop=True), _frame())


async def test_frames_convert_between_libraries() -> None:
    literal = await TypeEngine.to_literal(_frame(), pd.DataFrame)
    table = await TypeEngine.to_python_value(literal, pa.Table)
    polars_frame = await TypeEngine.to_python_value(literal, pl.DataFrame)
    assert table.column("a").to_pylist() == [1, 2, 3]
    assert polars_frame["b"].to_list() == ["x", "y", "z"]


async def test_annotated_columns_are_declared_and_selected() -> None:
    annotated = typing.Annotated[pd.DataFrame, {"a": int}]
    lt = TypeEngine.to_literal_type(annotated)
    assert [(c.name, c.literal_type.simple) for c in lt.structured_dataset_type.columns] == [("a", types_pb2.INTEGER)]
    literal = await TypeEngine.to_literal(_frame(), annotated, lt)
    assert [c.name for c in literal.scalar.structured_dataset.metadata.structured_dataset_type.columns] == ["a"]
    back = await TypeEngine.to_python_value(literal, annotated)
    assert list(back.columns) == ["a"]
    handle_type = typing.Annotated[DataFrame, {"b": str}]
    assert [c.name for c in TypeEngine.to_literal_type(handle_type).structured_dataset_type.columns] == ["b"]


async def test_dataframe_handle_is_lazy_and_opens_as_any_library() -> None:
    lt = TypeEngine.to_literal_type(DataFrame)
    assert lt == types_pb2.LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType())
    handle = DataFrame.from_df(_frame())
    literal = await TypeEngine.to_literal(handle, DataFrame, lt)
    assert literal.scalar.structured_dataset.metadata.structured_dataset_type.format == "parquet"
    received = await TypeEngine.to_python_value(literal, DataFrame)
    assert received.val is None and received.uri == literal.scalar.structured_dataset.uri
    assert received.format == "parquet" and received.metadata is not None
    pd.testing.assert_frame_equal(await received.open(pd.DataFrame).all(), _frame())
    assert (await received.open(pl.DataFrame).all())["a"].to_list() == [1, 2, 3]
    parts = [part async for part in received.open(pa.Table).iter()]
    assert len(parts) == 1 and parts[0].num_rows == 3
    assert received.open(pa.Table).all_sync().num_rows == 3


async def test_from_local_writes_now_and_existing_remote_reads(tmp_path: Path) -> None:
    written = await DataFrame.from_local(pa.Table.from_pandas(_frame()), remote_destination=str(tmp_path / "ds"))
    assert written.uri == str(tmp_path / "ds") and written.format == "parquet"
    assert (tmp_path / "ds" / "00000").is_file()
    existing = DataFrame.from_existing_remote(str(tmp_path / "ds"), format="parquet")
    assert (await existing.open(pd.DataFrame).all())["b"].tolist() == ["x", "y", "z"]
    literal = await TypeEngine.to_literal(existing, DataFrame)
    assert literal.scalar.structured_dataset.uri == str(tmp_path / "ds")
    single = tmp_path / "one.parquet"
    _frame().to_parquet(single)
    assert len(await DataFrame.from_existing_remote(str(single)).open(pd.DataFrame).all()) == 3
    assert DataFrame.from_local_sync(_frame(), hash_method="v7").hash == "v7"


async def test_bad_values_are_rejected() -> None:
    with pytest.raises(TypeTransformerFailedError):
        await TypeEngine.to_literal({"not": "a frame"}, DataFrame)
    with pytest.raises(TypeTransformerFailedError):
        await TypeEngine.to_literal([1, 2], pd.DataFrame)  # another library's frame is accepted, a list is not
    with pytest.raises(TypeTransformerFailedError, match="neither"):
        await DataFrame().all()
