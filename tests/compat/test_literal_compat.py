"""Literals written by PyPI ``flyte==2.12.1`` decode here, and ours decode there.

The shared ``reference_python`` fixture (``tests/reference.py``) finds or builds a virtualenv with the
reference SDK:

* ``$FLYTE_REFERENCE_PYTHON``: a Python interpreter that already has ``flyte==2.12.1``; or
* a cached venv at ``$FLYTE_REFERENCE_VENV`` (default ``~/.cache/flyte-ours/refvenv-2.12.1``),
  created once with ``python -m venv`` and ``pip install flyte==2.12.1``.

The tests skip only when pip cannot reach the package index. Each direction runs one reference
subprocess for all types. Both sides import the same ``compat_types`` module (written below to a
temporary directory), so the types and values are identical and pickles resolve their classes.

A case the reference itself refuses (its error is written to ``<case>.error``) xfails with that
error as the reason; we may refuse a value only where the reference refuses it too. The reference
scripts exit if the ``flyte`` they import is not the reference, so a leaked ``PYTHONPATH`` cannot
turn the comparison into ours-versus-ours.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flyteidl2.core import literals_pb2, types_pb2

from flyte.types import TypeEngine, TypeTransformerFailedError
from reference import REFERENCE_VERSION, reference_env

COMPAT_TYPES = textwrap.dedent(
    '''
    """Types and values both SDKs encode; this module must stay importable by either."""
    import dataclasses
    import datetime
    import enum
    import typing
    from typing import Annotated, NamedTuple, Optional, TypedDict

    import pydantic
    import typing_extensions
    from typing_extensions import NotRequired

    from flyte.io import Dir, File


    class Color(enum.Enum):
        RED = "red"
        GREEN = "green"


    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 5


    @dataclasses.dataclass
    class Inner:
        a: int
        b: str = "x"


    @dataclasses.dataclass
    class Outer:
        inner: Inner
        numbers: list[int]
        scores: dict[str, float]
        maybe: Optional[int] = None
        color: Color = Color.RED
        inners: list[Inner] = dataclasses.field(default_factory=list)
        when: Optional[datetime.datetime] = None
        day: datetime.date = datetime.date(2024, 2, 3)
        level: Level = Level.HIGH


    class Sub(pydantic.BaseModel):
        s: str
        colors: list[Color] = []


    class Model(pydantic.BaseModel):
        x: int
        tags: list[str] = []
        sub: Optional[Sub] = None
        color: Color = Color.GREEN
        level: Level = Level.LOW
        when: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        span: datetime.timedelta = datetime.timedelta(seconds=3)
        by_name: dict[str, Sub] = {}
        pair: tuple[int, str] = (1, "a")
        inner: Optional[Inner] = None


    class Pair(NamedTuple):
        total: int
        name: str


    class Movie(TypedDict):
        title: str
        year: int


    class Draft(TypedDict, total=False):
        title: str
        year: int


    class Notes(TypedDict):
        title: str
        tags: NotRequired[list[str]]


    class Shelf(TypedDict):  # a typing.TypedDict inside another: pydantic refuses those before 3.12
        top: Movie
        rest: list[Movie]
        notes: dict[str, Notes]


    class Catalog(typing_extensions.TypedDict):
        first: Movie


    class Shade(str, enum.Enum):
        DARK = "dark"
        LIGHT = "light"


    class Opaque:
        def __init__(self, n):
            self.n = n

        def __eq__(self, other):
            return isinstance(other, Opaque) and other.n == self.n


    @dataclasses.dataclass
    class Bundle:
        data: File
        tables: list[File]
        root: Optional[Dir] = None
        by_name: dict[str, File] = dataclasses.field(default_factory=dict)


    @dataclasses.dataclass
    class Shipment:
        bundle: Bundle
        bundles: list[Bundle]
        spare: Optional[File] = None
        dirs: dict[str, Optional[Dir]] = dataclasses.field(default_factory=dict)


    @dataclasses.dataclass
    class Holder:
        sub: Sub
        n: int = 0


    UTC = datetime.timezone.utc
    BUNDLE = Bundle(
        File(path="s3://bucket/a.txt", hash="h1"),
        [File(path="/data/t.csv", format="csv"), File(path="s3://bucket/u", name="renamed")],
        Dir(path="s3://bucket/d/", format="png"),
        {"k": File(path="/data/k.bin")},
    )

    CASES = [
        ("int", int, 42),
        ("int-min", int, -(2**63)),
        ("float", float, 1.5),
        ("float-inf", float, float("inf")),
        ("str", str, "h\\u00e9llo"),
        ("bool", bool, True),
        ("none", type(None), None),
        ("bytes", bytes, b"\\x00\\xffab"),
        ("datetime", datetime.datetime, datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("date", datetime.date, datetime.date(2024, 1, 2)),
        ("timedelta", datetime.timedelta, datetime.timedelta(days=1, seconds=3, microseconds=500)),
        ("list-int", list[int], [1, 2, 3]),
        ("list-list-str", list[list[str]], [["a"], [], ["b", "c"]]),
        ("dict-str-int", dict[str, int], {"b": 2, "a": 1}),
        ("dict-str-list", dict[str, list[float]], {"x": [1.0, 2.5]}),
        ("dict-untyped", dict, {"a": 1, "b": [1, "x"], "c": {"d": None}}),
        ("dict-int-keys", dict[int, str], {1: "a", 2: "b"}),
        ("dict-str-any", dict[str, typing.Any], {"a": 1, "b": "x"}),
        ("optional-none", Optional[int], None),
        ("optional-some", Optional[int], 3),
        ("union-str", typing.Union[int, str], "x"),
        ("union-float-int", typing.Union[float, int], 1),
        ("union-list", typing.Union[int, list[int], None], [1]),
        ("union-dict", typing.Union[dict[str, int], None], {"k": 1}),
        ("list-optional", list[Optional[int]], [None, 1]),
        ("enum", Color, Color.GREEN),
        ("int-enum", Level, Level.HIGH),
        ("optional-enum", Optional[Color], Color.RED),
        ("dict-enum", dict[str, Color], {"k": Color.RED}),
        ("dataclass", Inner, Inner(1)),
        (
            "dataclass-nested",
            Outer,
            Outer(Inner(1), [1], {"a": 1.0}, 2, Color.GREEN, [Inner(2, "y")], datetime.datetime(2024, 1, 1)),
        ),
        ("list-dataclass", list[Inner], [Inner(1), Inner(2, "z")]),
        ("optional-dataclass", Optional[Inner], Inner(5)),
        (
            "pydantic",
            Model,
            Model(x=1, tags=["a"], sub=Sub(s="q", colors=[Color.RED]), by_name={"k": Sub(s="y")}, inner=Inner(4)),
        ),
        ("optional-pydantic", Optional[Model], Model(x=2)),
        ("tuple", tuple[int, str, list[float]], (1, "a", [1.0])),
        ("namedtuple", Pair, Pair(3, "p")),
        ("optional-namedtuple", Optional[Pair], Pair(4, "q")),
        ("typeddict", Movie, {"title": "Up", "year": 2009}),
        ("annotated", Annotated[int, "meters"], 7),
        ("annotated-optional", Annotated[Optional[list[int]], "meta"], [1]),
        ("pickle", Opaque, Opaque(3)),
        ("list-any", list[typing.Any], [1, "a", None]),
        ("variadic-tuple", tuple[int, ...], (1, 2)),
        ("list-any-no-none", list[typing.Any], [1, "a"]),
        ("timedelta-negative", datetime.timedelta, datetime.timedelta(seconds=-1, microseconds=1)),
        ("timedelta-negative-days", datetime.timedelta, datetime.timedelta(days=-3, seconds=5)),
        ("datetime-before-epoch", datetime.datetime, datetime.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC)),
        ("set", set[int], {1, 2}),
        ("frozenset", frozenset[str], frozenset({"only"})),
        ("set-unsortable", set, {1, (2,)}),
        ("typing-tuple", typing.Tuple[int, str], (1, "a")),
        ("typeddict-total-false", Draft, {"title": "Up", "year": 2009}),
        ("typeddict-total-false-partial", Draft, {"title": "Up"}),
        ("typeddict-not-required", Notes, {"title": "Up", "tags": ["a"]}),
        ("typeddict-not-required-absent", Notes, {"title": "Up"}),
        ("str-enum", Shade, Shade.LIGHT),
        ("literal", typing.Literal["a", "b"], "b"),
        ("list-dict", list[dict[str, int]], [{"a": 1}, {}]),
        ("dict-str-dataclass", dict[str, Inner], {"k": Inner(1)}),
        ("union-dataclass", typing.Union[Inner, int], Inner(2)),
        ("union-enum-str", typing.Union[Color, str], "z"),
        ("optional-tuple", Optional[tuple[int, str]], (1, "a")),
        ("dataclass-files", Bundle, BUNDLE),
        ("dataclass-files-defaults", Bundle, Bundle(File(path="/data/only.txt"), [])),
        (
            "dataclass-files-nested",
            Shipment,
            Shipment(BUNDLE, [BUNDLE, Bundle(File(path="s3://b/x"), [])], None, {"d": Dir(path="/data/d"), "e": None}),
        ),
        ("list-dataclass-files", list[Bundle], [BUNDLE]),
        ("optional-dataclass-files", Optional[Bundle], BUNDLE),
        ("dict-dataclass-files", dict[str, Bundle], {"b": BUNDLE}),
        ("dataclass-pydantic-field", Holder, Holder(Sub(s="q", colors=[Color.GREEN]))),
        (
            "typeddict-nested",
            Shelf,
            {
                "top": {"title": "Up", "year": 2009},
                "rest": [{"title": "Heat", "year": 1995}],
                "notes": {"a": {"title": "x"}, "b": {"title": "y", "tags": ["t"]}},
            },
        ),
        ("list-typeddict", list[Movie], [{"title": "Up", "year": 2009}]),
        ("optional-typeddict", Optional[Movie], {"title": "Up", "year": 2009}),
        ("typeddict-extensions-nesting-typing", Catalog, {"first": {"title": "Up", "year": 2009}}),
        ("tuple-typeddict", tuple[Movie, int], ({"title": "Up", "year": 2009}, 1)),
    ]

    # Values of another type that Flyte 2 accepts for the declared one (a dict for a dataclass or
    # a pydantic model); each must encode to the same bytes the reference writes for it.
    COERCED = [
        ("dict-for-dataclass", Inner, {"a": 1}),
        (
            "dict-for-nested-dataclass",
            Outer,
            {"inner": {"a": 1, "b": "y"}, "numbers": [1], "scores": {"s": 1.5}, "inners": [{"a": 2}]},
        ),
        ("dict-for-pydantic", Model, {"x": 1, "tags": ["a"], "sub": {"s": "q"}}),
        ("dicts-for-list-of-dataclasses", list[Inner], [{"a": 1}, {"a": 2, "b": "z"}]),
        ("dict-for-optional-dataclass", Optional[Inner], {"a": 3}),
        ("dict-for-dataclass-in-dict", dict[str, Inner], {"k": {"a": 4}}),
    ]
    '''
)

# Runs under the reference SDK: encode every case, write <id>.lit and <id>.lt. A case the reference
# itself refuses gets <id>.error with its message instead, so the test can say why it is excluded.
REFERENCE_ENCODE = textwrap.dedent(
    """
    import asyncio, sys, pathlib
    sys.path.insert(0, sys.argv[1])
    import compat_types
    import flyte
    from flyte.types import TypeEngine
    if flyte.__version__ != sys.argv[3]:
        sys.exit("imported flyte " + flyte.__version__ + " from " + flyte.__file__ + ", not the reference")

    async def main(out):
        for name, t, value in compat_types.CASES + compat_types.COERCED:
            try:
                lt = TypeEngine.to_literal_type(t)
                (out / (name + ".lt")).write_bytes(lt.SerializeToString(deterministic=True))
                lit = await TypeEngine.to_literal(value, t, lt)
            except Exception as e:
                (out / (name + ".error")).write_text(type(e).__name__ + ": " + str(e))
                continue
            (out / (name + ".lit")).write_bytes(lit.SerializeToString(deterministic=True))

    asyncio.run(main(pathlib.Path(sys.argv[2])))
    """
)

# Runs under the reference SDK: decode every <id>.lit we wrote, report equality as JSON.
REFERENCE_DECODE = textwrap.dedent(
    """
    import asyncio, json, sys, pathlib
    sys.path.insert(0, sys.argv[1])
    import compat_types
    import flyte
    from flyte.types import TypeEngine
    if flyte.__version__ != sys.argv[3]:
        sys.exit("imported flyte " + flyte.__version__ + " from " + flyte.__file__ + ", not the reference")
    from flyteidl2.core import literals_pb2

    async def main(src):
        report = {}
        for name, t, value in compat_types.CASES:
            path = src / (name + ".lit")
            if not path.exists():
                continue
            lit = literals_pb2.Literal.FromString(path.read_bytes())
            try:
                back = await TypeEngine.to_python_value(lit, t)
                report[name] = {"equal": back == value and type(back) is type(value), "repr": repr(back)}
            except Exception as e:
                report[name] = {"equal": False, "repr": type(e).__name__ + ": " + str(e)}
        print(json.dumps(report))

    asyncio.run(main(pathlib.Path(sys.argv[2])))
    """
)


@pytest.fixture(scope="module")
def compat_types(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    """Write the shared ``compat_types`` module and import it here."""
    directory = tmp_path_factory.mktemp("compat_types")
    (directory / "compat_types.py").write_text(COMPAT_TYPES)
    sys.path.insert(0, str(directory))
    try:
        sys.modules.pop("compat_types", None)
        yield directory, importlib.import_module("compat_types")
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("compat_types", None)


def _run_reference(python: str, script: str, *args: str) -> str:
    result = subprocess.run(
        [python, "-c", script, *args, REFERENCE_VERSION],
        capture_output=True,
        text=True,
        timeout=300,
        env=reference_env(),
    )
    assert result.returncode == 0, f"reference script failed:\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def reference_encoded(
    reference_python: str, compat_types: tuple[Path, ModuleType], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The reference SDK's literals and literal types for every case, one file each."""
    out = tmp_path_factory.mktemp("reference_literals")
    _run_reference(reference_python, REFERENCE_ENCODE, str(compat_types[0]), str(out))
    return out


def _case_ids(which: str = "CASES") -> list[str]:
    namespace: dict[str, Any] = {}
    exec(COMPAT_TYPES, namespace)
    return [name for name, _, _ in namespace[which]]


CASE_IDS = _case_ids()
COERCED_IDS = _case_ids("COERCED")

# Cases whose literal bytes may legitimately differ: cloudpickle embeds a per-process class
# tracking id for classes it pickles by value; our module-level class pickles by reference.
BYTES_MAY_DIFFER: set[str] = set()


def _reference_bytes(reference_encoded: Path, name: str, suffix: str) -> bytes:
    """The reference's encoding of one case; xfails when the reference itself refused the case."""
    path = reference_encoded / f"{name}{suffix}"
    if path.exists():
        return path.read_bytes()
    error = reference_encoded / f"{name}.error"
    if error.exists():
        pytest.xfail(f"flyte=={REFERENCE_VERSION} cannot encode this case: {error.read_text()}")
    raise AssertionError(f"the reference wrote neither {path.name} nor {error.name}")


def _case(compat_types: tuple[Path, ModuleType], name: str) -> tuple[Any, Any]:
    for case_name, t, value in compat_types[1].CASES + compat_types[1].COERCED:
        if case_name == name:
            return t, value
    raise KeyError(name)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", CASE_IDS)
def test_reference_literal_decodes_here(
    name: str, reference_encoded: Path, compat_types: tuple[Path, ModuleType]
) -> None:
    t, value = _case(compat_types, name)
    lit = literals_pb2.Literal.FromString(_reference_bytes(reference_encoded, name, ".lit"))
    back = asyncio.run(TypeEngine.to_python_value(lit, t))
    assert back == value
    assert type(back) is type(value)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", CASE_IDS)
def test_literal_type_is_byte_identical(
    name: str, reference_encoded: Path, compat_types: tuple[Path, ModuleType]
) -> None:
    t, _ = _case(compat_types, name)
    ours = TypeEngine.to_literal_type(t).SerializeToString(deterministic=True)
    theirs = _reference_bytes(reference_encoded, name, ".lt")
    assert types_pb2.LiteralType.FromString(ours) == types_pb2.LiteralType.FromString(theirs)
    assert ours == theirs


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", CASE_IDS)
def test_literal_is_byte_identical(name: str, reference_encoded: Path, compat_types: tuple[Path, ModuleType]) -> None:
    if name in BYTES_MAY_DIFFER:
        pytest.skip("pickle bytes depend on the process")
    theirs = _reference_bytes(reference_encoded, name, ".lit")
    t, value = _case(compat_types, name)
    ours = asyncio.run(TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t)))
    assert ours.SerializeToString(deterministic=True) == theirs


@pytest.fixture(scope="module")
def reference_decoded(
    reference_python: str, compat_types: tuple[Path, ModuleType], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """What the reference SDK reads back from our literals, per case (``our_error`` where we refused)."""
    out = tmp_path_factory.mktemp("our_literals")
    our_errors: dict[str, str] = {}

    async def encode_all() -> None:
        for name, t, value in compat_types[1].CASES:
            try:
                lit = await TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t))
            except TypeTransformerFailedError as e:
                our_errors[name] = str(e)
                continue
            (out / f"{name}.lit").write_bytes(lit.SerializeToString(deterministic=True))

    asyncio.run(encode_all())
    stdout = _run_reference(reference_python, REFERENCE_DECODE, str(compat_types[0]), str(out))
    report: dict[str, dict[str, Any]] = json.loads(stdout.strip().splitlines()[-1])
    for name, error in our_errors.items():
        report[name] = {"our_error": error}
    return report


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", CASE_IDS)
def test_our_literal_decodes_in_the_reference(
    name: str, reference_decoded: dict[str, dict[str, Any]], reference_encoded: Path
) -> None:
    result = reference_decoded[name]
    _reference_bytes(reference_encoded, name, ".lit")  # xfails where the reference refuses the case
    if "our_error" in result:
        # We may refuse a value only where the reference refuses it too.
        _reference_bytes(reference_encoded, name, ".lit")
        pytest.fail(f"we cannot encode a value the reference encodes: {result['our_error']}")
    assert result["equal"], f"reference read back {result['repr']}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", COERCED_IDS)
def test_coerced_value_encodes_like_the_reference(
    name: str, reference_encoded: Path, compat_types: tuple[Path, ModuleType]
) -> None:
    """A dict given for a dataclass or model is the instance it describes, byte for byte."""
    theirs = _reference_bytes(reference_encoded, name, ".lit")
    t, value = _case(compat_types, name)
    ours = asyncio.run(TypeEngine.to_literal(value, t, TypeEngine.to_literal_type(t)))
    assert ours.SerializeToString(deterministic=True) == theirs
    assert asyncio.run(TypeEngine.to_python_value(ours, t)) != value  # an instance now, not the dict
