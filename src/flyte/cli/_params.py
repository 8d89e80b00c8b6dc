"""Turning a task's inputs into click options.

Each input becomes one ``--name`` option whose click type parses the command-line text into the
Python value the task expects:

=============================================  ============================================
Python type                                    Command-line text
=============================================  ============================================
``int``, ``float``, ``str``                    the literal value
``bool``                                       ``--name`` / ``--no-name``
``enum.Enum``, ``Literal[...]``                a member name (the choices are listed)
``list``, ``dict``, dataclass, pydantic model  JSON text, or the path of a .json / .yaml file
``datetime``, ``date``                         ISO 8601 (``2024-05-01T12:00``), ``now``, ``today``
``timedelta``                                  seconds, ``1h30m``, or ISO 8601 (``PT90M``)
``pathlib.Path``, ``flyte.io.File`` / ``Dir``  a local path
``Optional[T]``                                as ``T``; leaving it out gives the default
=============================================  ============================================

Inputs without a default are required options. Options that are not given are not passed to the
task, so the task's own defaults apply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import json
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

_EMPTY: Any = inspect.Parameter.empty

__all__ = ["input_options", "parse_docstring_args"]


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """``Optional[T]`` → ``(T, True)``; other types are returned unchanged."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
            return inner, True
    return tp, False


def _one_line_validation_error(error: Exception) -> str:
    """The first problem a pydantic ``ValidationError`` reports, on one line."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        problems = errors()
        if problems:
            first = problems[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return f"{where + ': ' if where else ''}{first.get('msg', '')}{more}"
    return str(error).splitlines()[0]


class JsonValueType(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.2
    """A structured value (list, dict, dataclass, pydantic model) from JSON text or a JSON/YAML file.

    The parsed data is validated and converted to the declared type with pydantic, so nested
    dataclasses, enums and datetimes come out as the task expects them.
    """

    name = "json"

    def __init__(self, python_type: Any, *, raw_text_fallback: bool = False) -> None:
        self.python_type = python_type
        self.raw_text_fallback = raw_text_fallback
        self._adapter: Any = None

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        origin = typing.get_origin(self.python_type) or self.python_type
        if self.raw_text_fallback:
            return "VALUE"
        if origin in (list, tuple, set, frozenset):
            return "JSON_LIST"
        return "JSON_OBJECT"

    def _load(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = value.strip()
        suffix = Path(text).suffix.lower()
        if suffix in (".json", ".yaml", ".yml") and "\n" not in text:
            path = Path(text).expanduser()
            if not path.is_file():
                self.fail(f"file {text!r} does not exist", param, ctx)
            try:
                content = path.read_text(encoding="utf-8")
            except OSError as e:
                self.fail(f"cannot read {text!r}: {e.strerror or e}", param, ctx)
            if suffix == ".json":
                try:
                    return json.loads(content)
                except json.JSONDecodeError as e:
                    self.fail(f"{text!r} is not valid JSON: {e}", param, ctx)
            import yaml

            try:
                return yaml.safe_load(content)
            except yaml.YAMLError as e:
                self.fail(f"{text!r} is not valid YAML: {str(e).splitlines()[0]}", param, ctx)
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            if self.raw_text_fallback:
                return value
            self.fail(f"{value!r} is not valid JSON ({e}); give JSON text or a .json/.yaml file", param, ctx)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        data = self._load(value, param, ctx)
        return self._validate(data, param, ctx)

    def _validate(self, data: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import pydantic

        if self._adapter is None:
            try:
                self._adapter = pydantic.TypeAdapter(self.python_type)
            except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError, NameError):
                # A type pydantic cannot describe: hand the parsed data to the task as is, and
                # let the type engine accept or reject it.
                self._adapter = False
        if self._adapter is False:
            return data
        try:
            return self._adapter.validate_python(data)
        except pydantic.ValidationError as e:
            self.fail(
                f"not a valid {short_type_name(self.python_type)}: {_one_line_validation_error(e)}",
                param,
                ctx,
            )


class EnumChoiceType(click.Choice):  # type: ignore[type-arg]
    """An enum member, given by name (its value is accepted too)."""

    def __init__(self, enum_type: type[enum.Enum]) -> None:
        super().__init__([member.name for member in enum_type])
        self.enum_type = enum_type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.enum_type):
            return value
        for member in self.enum_type:
            if isinstance(member.value, str) and value == member.value and value not in self.choices:
                return member
        name = super().convert(value, param, ctx)
        return self.enum_type[name]


class LiteralChoiceType(click.Choice):  # type: ignore[type-arg]
    """One of the values of a ``Literal[...]`` type."""

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.by_text = {str(v): v for v in values}
        super().__init__(list(self.by_text))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        return self.by_text[super().convert(value, param, ctx)]


class DateTimeType(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.2
    """A ``datetime`` (or ``date``) in ISO 8601, or ``now`` / ``today``."""

    def __init__(self, date_only: bool = False) -> None:
        self.date_only = date_only
        self.name = "date" if date_only else "datetime"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-MM-DD" if self.date_only else "ISO8601|now|today"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (dt.date, dt.datetime)):
            return value
        text = str(value).strip()
        if self.date_only:
            if text.lower() == "today":
                return dt.date.today()
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 date such as 2024-05-01", param, ctx)
        if text.lower() == "now":
            return dt.datetime.now()
        if text.lower() == "today":
            return dt.datetime.combine(dt.date.today(), dt.time())
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time such as 2024-05-01T12:30:00", param, ctx)


_SHORT_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)", re.IGNORECASE)
_SHORT_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "ms": "milliseconds"}


def parse_duration(text: str) -> dt.timedelta | None:
    """Parse ``90`` (seconds), ``1h30m``, ``250ms``, ISO 8601 ``P1DT2H`` or ``01:30:00``; ``None`` if it is neither.

    Example:
        >>> parse_duration("1h30m")
        datetime.timedelta(seconds=5400)
    """
    text = text.strip()
    try:
        return dt.timedelta(seconds=float(text))
    except ValueError:
        pass
    if text[:1].upper() == "P" or ":" in text:
        # ISO 8601 durations (PT1H30M, P1DT2H, P1W) and HH:MM:SS, read by pydantic.
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(dt.timedelta).validate_python(text)
        except ValidationError:
            return None
    pieces = _SHORT_DURATION.findall(text)
    if pieces and _SHORT_DURATION.sub("", text).strip() == "":
        total = dt.timedelta()
        for number, unit in pieces:
            total += dt.timedelta(**{_SHORT_UNITS[unit.lower()]: float(number)})
        return total
    return None


class DurationType(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.2
    """A ``timedelta``: seconds, ``1h30m`` or ISO 8601 ``PT1H30M``."""

    name = "duration"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.timedelta):
            return value
        duration = parse_duration(str(value))
        if duration is None:
            self.fail(f"{value!r} is not a duration; use seconds (90), 1h30m, or ISO 8601 (PT1H30M)", param, ctx)
        return duration


class LocalPathType(click.Path):
    """A local file or directory, wrapped in the task's path type (``flyte.io.File`` / ``Dir``)."""

    def __init__(self, wrap: Callable[[str], Any] | None, *, dir_okay: bool, file_okay: bool) -> None:
        super().__init__(exists=True, dir_okay=dir_okay, file_okay=file_okay, resolve_path=True)
        self.wrap = wrap

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, (str, Path)):
            return value
        path = os.fsdecode(super().convert(value, param, ctx))
        return self.wrap(path) if self.wrap is not None else Path(path)


def _flyte_io_param_type(tp: Any) -> click.ParamType[Any] | None:
    """``flyte.io.File`` / ``flyte.io.Dir`` (matched by name, so this works before ``flyte.io`` exists)."""
    module = getattr(tp, "__module__", "") or ""
    if not module.startswith("flyte.io"):
        return None
    name = getattr(tp, "__name__", "")
    if name == "File":
        return LocalPathType(_io_factory(tp), dir_okay=False, file_okay=True)
    if name == "Dir":
        return LocalPathType(_io_factory(tp), dir_okay=True, file_okay=False)
    return None


def _io_factory(tp: Any) -> Callable[[str], Any]:
    def build(path: str) -> Any:
        from_local = getattr(tp, "from_local_sync", None)
        if callable(from_local):
            return from_local(path)
        return tp(path=path)

    return build


def _is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_validate") and hasattr(tp, "model_fields")


def param_type_for(tp: Any) -> click.ParamType[Any] | None:
    """The click type that parses an input of Python type ``tp``; ``None`` means a boolean flag."""
    tp, _ = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return param_type_for(typing.get_args(tp)[0])
    if tp is bool:
        return None
    if tp is int:
        return click.INT
    if tp is float:
        return click.FLOAT
    if tp is str:
        return click.STRING
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return EnumChoiceType(tp)
    if origin is typing.Literal:
        values = typing.get_args(tp)
        if all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            return LiteralChoiceType(values)
    if tp is dt.datetime:
        return DateTimeType()
    if tp is dt.date:
        return DateTimeType(date_only=True)
    if tp is dt.timedelta:
        return DurationType()
    if isinstance(tp, type) and issubclass(tp, Path):
        return LocalPathType(None, dir_okay=True, file_okay=True)
    io_type = _flyte_io_param_type(tp)
    if io_type is not None:
        return io_type
    if (
        origin in (list, dict, tuple, set, frozenset)
        or tp in (list, dict, tuple, set, frozenset)
        or dataclasses.is_dataclass(tp)
        or _is_pydantic_model(tp)
        or typing.is_typeddict(tp)
    ):
        return JsonValueType(tp)
    # Unions and anything else: JSON when the text is JSON, the text itself otherwise.
    return JsonValueType(tp, raw_text_fallback=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if _is_pydantic_model(type(value)):
        return _jsonable(value.model_dump(mode="python"))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    return value


def default_text(default: Any, tp: Any) -> str:
    """How a default is shown in ``--help``: the way one would type it on the command line."""
    if default is None:
        return "None"
    if isinstance(default, enum.Enum):
        return default.name
    if isinstance(default, bool):
        return str(default)
    if isinstance(default, (dt.date, dt.datetime)):
        return default.isoformat()
    if isinstance(default, dt.timedelta):
        return f"{default.total_seconds():g}s"
    if isinstance(default, (str, int, float, Path)):
        return str(default)
    try:
        return json.dumps(_jsonable(default))
    except (TypeError, ValueError):
        return repr(default)


def parse_docstring_args(doc: str | None) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring: name → one-line description.

    Example:
        >>> parse_docstring_args('''Do it.
        ...
        ... Args:
        ...     x: how many.
        ...     y: the label
        ...        shown to users.
        ... ''')
        {'x': 'how many.', 'y': 'the label shown to users.'}
    """
    if not doc:
        return {}
    from flyte.models import Docstring

    return Docstring(doc).input_descriptions


def _fields_help(tp: Any) -> str:
    """``Opts as JSON: {"scale": int, "label": str}`` for a dataclass or pydantic model input."""
    tp, _ = _strip_optional(tp)
    fields: dict[str, Any] = {}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        try:
            hints = typing.get_type_hints(tp)
        except (NameError, TypeError):
            hints = {}
        fields = {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(tp)}
    elif _is_pydantic_model(tp):
        fields = {name: info.annotation for name, info in tp.model_fields.items()}
    if not fields:
        return ""
    shown = ", ".join(f'"{name}": {short_type_name(field_type)}' for name, field_type in fields.items())
    return f"{tp.__name__} as JSON: {{{shown}}}"


class InputOption(click.Option):
    """An option for a task input; its help shows the task's default as one would type it."""

    def __init__(self, decls: list[str], *, default_display: str | None, **kwargs: Any) -> None:
        super().__init__(decls, **kwargs)
        self.default_display = default_display

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.default_display is not None:
            extra["default"] = self.default_display
        return extra


def input_options(inputs: dict[str, tuple[Any, Any]], descriptions: dict[str, str]) -> list[click.Parameter]:
    """One click option per task input, in declaration order.

    Args:
        inputs: the task interface's inputs: name → (type, default or ``inspect.Parameter.empty``).
        descriptions: name → help text (from the task's docstring).

    Returns:
        Options whose parameter names are the input names; an option that is not given yields
        ``None`` and should not be passed to the task, so that the task's default applies.

    Example:
        >>> [o.name for o in input_options({"x": (int, inspect.Parameter.empty)}, {})]
        ['x']
    """
    options: list[click.Parameter] = []
    for name, (tp, default) in inputs.items():
        required = default is _EMPTY
        dashed = name.replace("_", "-")
        param_type = param_type_for(tp)
        help_text = " ".join(part for part in (descriptions.get(name, ""), _fields_help(tp)) if part)
        common: dict[str, Any] = {
            "required": required,
            "help": help_text,
            "default_display": None if required else default_text(default, tp),
        }
        if param_type is None:
            decls = [f"--{name}/--no-{name}"]
            if dashed != name:
                decls.append(f"--{dashed}/--no-{dashed}")
            if not required:
                # None (not False) when neither form is given, so the task's own default applies.
                common["default"] = None
            options.append(InputOption([*decls, name], is_flag=True, **common))
            continue
        decls = [f"--{name}"] + ([f"--{dashed}"] if dashed != name else [])
        options.append(InputOption([*decls, name], type=param_type, **common))
    return options


def short_type_name(tp: Any) -> str:
    """A type as a user would write it, without module prefixes: ``list[Opts]``, ``int | None``.

    Example:
        >>> short_type_name(dict[str, list[int]])
        'dict[str, list[int]]'
    """
    if tp is type(None) or tp is None:
        return "None"
    inner, optional = _strip_optional(tp)
    if optional:
        return f"{short_type_name(inner)} | None"
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return short_type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(short_type_name(arg) for arg in typing.get_args(tp))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(v) for v in typing.get_args(tp))}]"
    if origin is not None:
        args = ", ".join("..." if arg is Ellipsis else short_type_name(arg) for arg in typing.get_args(tp))
        base = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        return f"{base}[{args}]" if args else base
    if isinstance(tp, type):
        return tp.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", str(tp))


def short_signature(inputs: dict[str, tuple[Any, Any]], outputs: dict[str, Any]) -> str:
    """A task's signature on one line: ``(x: int, flag: bool = False) -> str``.

    Example:
        >>> short_signature({"x": (int, inspect.Parameter.empty), "n": (float, 0.5)}, {"o0": str})
        '(x: int, n: float = 0.5) -> str'
    """
    params = []
    for name, (tp, default) in inputs.items():
        shown = f"{name}: {short_type_name(tp)}"
        if default is not _EMPTY:
            text = default_text(default, tp)
            if isinstance(default, str):
                text = repr(default)
            if len(text) > 24:
                text = "..."
            shown += f" = {text}"
        params.append(shown)
    if not outputs:
        returns = "None"
    elif len(outputs) == 1 and "o0" in outputs:
        returns = short_type_name(outputs["o0"])
    elif all(name.startswith("o") and name[1:].isdigit() for name in outputs):
        returns = f"({', '.join(short_type_name(tp) for tp in outputs.values())})"
    else:
        returns = f"({', '.join(f'{name}: {short_type_name(tp)}' for name, tp in outputs.items())})"
    return f"({', '.join(params)}) -> {returns}"
