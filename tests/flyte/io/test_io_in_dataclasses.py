"""Dataclasses holding File, Dir and DataFrame fields: their schema, their bytes, and tasks passing them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pydantic
import pytest
from google.protobuf import json_format

import flyte
from flyte.io import DataFrame, Dir, File
from flyte.types import TypeEngine
from flyte.types._hashing import hash_inputs

env = flyte.TaskEnvironment(name="io_dataclasses")


@dataclass
class Bundle:
    data: File
    tables: list[File]
    root: Dir | None = None
    by_name: dict[str, File] = field(default_factory=dict)


@dataclass
class Shipment:
    bundle: Bundle
    bundles: list[Bundle]
    label: str = "x"


@env.task
async def pack(text: str, folder: str) -> Shipment:
    data = File.new_remote("data.txt")
    async with data.open("wb") as handle:
        await handle.write(text.encode())
    table = File.new_remote("t.csv")
    async with table.open("wb") as handle:
        await handle.write(b"a,b\n1,2\n")
    bundle = Bundle(data=data, tables=[table], root=await Dir.from_local(folder), by_name={"t": table})
    return Shipment(bundle=bundle, bundles=[bundle, Bundle(data=table, tables=[])], label="sent")


@env.task
async def unpack(shipment: Shipment) -> list[str]:
    bundle = shipment.bundle
    async with bundle.data.open("rb") as handle:
        data = (await handle.read()).decode()
    async with bundle.by_name["t"].open("rb") as handle:
        table = (await handle.read()).decode()
    assert bundle.root is not None
    names = sorted([f.name async for f in bundle.root.walk()])
    async with shipment.bundles[1].data.open("rb") as handle:
        second = (await handle.read()).decode()
    return [data, table, ",".join(names), second, shipment.label]


@env.task
async def ship(text: str, folder: str) -> list[str]:
    return await unpack(await pack(text, folder))


def test_tasks_pass_dataclasses_of_files_and_read_them(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("1")
    (tmp_path / "two.txt").write_text("2")
    run = flyte.run(ship, "payload", str(tmp_path))
    assert run.outputs()[0] == ["payload", "a,b\n1,2\n", "one.txt,two.txt", "a,b\n1,2\n", "sent"]


def test_schema_inlines_the_io_models_without_flyte_keywords() -> None:
    schema = json_format.MessageToDict(TypeEngine.to_literal_type(Bundle).metadata)
    data = schema["properties"]["data"]
    assert data["title"] == "File"
    assert list(data["required"]) == ["path"]
    assert "x-flyte-type" not in data
    assert schema["properties"]["tables"]["items"]["title"] == "File"
    assert [option.get("title") for option in schema["properties"]["root"]["anyOf"]] == ["Dir", None]


def test_values_are_written_as_field_dumps_and_read_back() -> None:
    value = Bundle(
        data=File(path="s3://bucket/a.txt", hash="h1"),
        tables=[File(path="/tmp/t.csv", format="csv")],
        root=Dir(path="s3://bucket/d/"),
    )
    literal = asyncio.run(TypeEngine.to_literal(value, Bundle, TypeEngine.to_literal_type(Bundle)))
    decoded = msgpack.unpackb(literal.scalar.binary.value)
    assert decoded["data"] == {"path": "s3://bucket/a.txt", "name": "a.txt", "format": "", "hash": "h1"}
    assert decoded["root"]["name"] == "d"
    assert asyncio.run(TypeEngine.to_python_value(literal, Bundle)) == value


def test_dataframe_fields_keep_uri_and_format_only() -> None:
    @dataclass
    class Tables:
        frame: DataFrame
        frames: list[DataFrame]

    value = Tables(DataFrame(uri="s3://bucket/ds", format="parquet", hash="cache-me"), [])
    literal = asyncio.run(TypeEngine.to_literal(value, Tables, TypeEngine.to_literal_type(Tables)))
    assert msgpack.unpackb(literal.scalar.binary.value) == {
        "frame": {"uri": "s3://bucket/ds", "format": "parquet"},
        "frames": [],
    }
    back = asyncio.run(TypeEngine.to_python_value(literal, Tables))
    assert (back.frame.uri, back.frame.format, back.frame.hash) == ("s3://bucket/ds", "parquet", None)
    # Pydantic models holding a DataFrame dump it the same way.
    assert value.frame.model_dump() == {"uri": "s3://bucket/ds", "format": "parquet"}


def test_a_file_content_hash_feeds_the_inputs_hash() -> None:
    def inputs_hash(digest: str) -> str:
        value = Bundle(data=File(path="s3://bucket/a.txt", hash=digest), tables=[])
        literal = asyncio.run(TypeEngine.to_literal(value, Bundle, TypeEngine.to_literal_type(Bundle)))
        return hash_inputs({"b": literal})

    assert inputs_hash("v1") == inputs_hash("v1")
    assert inputs_hash("v1") != inputs_hash("v2")


class Sub(pydantic.BaseModel):
    s: str


@dataclass
class Holder:
    sub: Sub


def test_a_plain_pydantic_field_gets_a_schema_but_no_encoding() -> None:
    schema = json_format.MessageToDict(TypeEngine.to_literal_type(Holder).metadata)
    assert schema["properties"]["sub"]["title"] == "Sub"
    # Flyte 2 refuses these values as well: mashumaro cannot encode a plain pydantic model.
    with pytest.raises(flyte.types.TypeTransformerFailedError, match="not serializable"):
        asyncio.run(TypeEngine.to_literal(Holder(Sub(s="a")), Holder, TypeEngine.to_literal_type(Holder)))
