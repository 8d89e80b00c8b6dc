"""``typing.TypedDict`` and ``typing_extensions.TypedDict`` inputs and outputs."""

import typing

import typing_extensions

import flyte

env = flyte.TaskEnvironment(name="compat_typeddict")


class Point(typing.TypedDict):
    x: int
    y: int


class Label(typing_extensions.TypedDict):
    text: str
    size: int


@env.task
def shift(p: Point, dx: int) -> Point:
    return {"x": p["x"] + dx, "y": p["y"]}


@env.task
def main(p: Point, label: Label) -> Label:
    moved = shift(p=p, dx=10)
    return {"text": f"{label['text']}@{moved['x']},{moved['y']}", "size": label["size"]}


INPUTS = {"p": {"x": 1, "y": 2}, "label": {"text": "pin", "size": 3}}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [{"text": "pin@11,2", "size": 3}]}
