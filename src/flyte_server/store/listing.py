"""``flyteidl2.common.ListRequest`` (filters, sort, limit, token) applied to SQL queries.

Every list RPC shares this: the caller names its filterable fields and their kinds; values arrive
as strings and are converted per kind. The page token is the offset of the next page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flyteidl2.common import list_pb2, phase_pb2
from sqlalchemy import BigInteger, ColumnElement, Integer, Select, SmallInteger, and_, not_

from flyte_server.request_checks import INT64_MAX, parse_bounded_int

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_FILTERS",
    "MAX_FILTER_VALUES",
    "MAX_LIMIT",
    "Field",
    "ListQueryError",
    "Page",
    "apply_list_request",
    "parse_time_us",
]

DEFAULT_LIMIT = 100
"""Rows per page when the request sets no limit."""
MAX_LIMIT = 1000
"""The most rows one page may hold."""
MAX_FILTERS = 50
"""The most filters one list request may carry."""
MAX_FILTER_VALUES = 1000
"""The most filter values (``VALUE_IN`` lists included) one list request may carry, well under both
databases' limit on statement parameters."""

Function = list_pb2.Filter.Function
INT64_MIN = -INT64_MAX - 1


class ListQueryError(ValueError):
    """A filter, sort key or token the list RPC cannot apply (an INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class Field:
    """A filterable/sortable field: its column and how to read filter values."""

    column: Any
    """The SQLAlchemy column (or expression)."""
    kind: str = "str"
    """``str``, ``int``, ``bool``, ``time`` (RFC 3339 → microseconds) or ``phase`` (ActionPhase)."""


@dataclass(frozen=True)
class Page:
    """What a list query needs after filtering: the offset and the page size."""

    offset: int
    limit: int

    def next_token(self, fetched: int) -> str:
        """The token of the next page, given how many rows were fetched (``limit + 1`` at most)."""
        return str(self.offset + self.limit) if fetched > self.limit else ""


def parse_time_us(value: str) -> int:
    """RFC 3339 (or integer microseconds) → microseconds since the epoch."""
    number = parse_bounded_int(value.strip(), low=INT64_MIN)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ListQueryError(f"not a timestamp: {value[:40]!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000)


def _parse_phase(value: str) -> int:
    text = value.strip().upper()
    number = parse_bounded_int(text, high=2**31 - 1)
    if number is not None:
        return number
    for candidate in (text, f"ACTION_PHASE_{text}"):
        try:
            return int(phase_pb2.ActionPhase.Value(candidate))
        except ValueError:
            continue
    raise ListQueryError(f"unknown phase {value[:40]!r}")


def _integer_bits(column: Any) -> int:
    """How wide the integer column is on PostgreSQL (SQLite's are all 64 bits; the narrower bound rules)."""
    kind = getattr(column, "type", None)
    if isinstance(kind, BigInteger):
        return 64
    if isinstance(kind, SmallInteger):
        return 16
    return 32 if isinstance(kind, Integer) else 64


def _in_column_range(field: Field, number: int, value: str) -> int:
    bits = _integer_bits(field.column)
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise ListQueryError(f"{value[:40]!r} is out of range for {field.kind} filter values ({bits}-bit)")
    return number


def _convert(field: Field, value: str) -> Any:
    if field.kind == "int":
        number = parse_bounded_int(value.strip(), low=INT64_MIN)
        if number is None:
            raise ListQueryError(f"not a 64-bit integer: {value[:40]!r}")
        return _in_column_range(field, number, value)
    if field.kind == "bool":
        return value.strip().lower() in ("1", "true", "yes")
    if field.kind == "time":
        return _in_column_range(field, parse_time_us(value), value)
    if field.kind == "phase":
        return _in_column_range(field, _parse_phase(value), value)
    return value


def _clause(field: Field, function: int, values: list[Any]) -> ColumnElement[bool]:
    column = field.column
    if function in (Function.EXISTS, Function.NOT_EXISTS):
        clause = column.is_not(None) & (column != "") if field.kind == "str" else column.is_not(None)
        return clause if function == Function.EXISTS else not_(clause)  # type: ignore[no-any-return]
    if not values:
        raise ListQueryError("the filter has no value")
    first = values[0]
    match function:
        case Function.EQUAL:
            return column == first  # type: ignore[no-any-return]
        case Function.NOT_EQUAL:
            return column != first  # type: ignore[no-any-return]
        case Function.GREATER_THAN:
            return column > first  # type: ignore[no-any-return]
        case Function.GREATER_THAN_OR_EQUAL:
            return column >= first  # type: ignore[no-any-return]
        case Function.LESS_THAN:
            return column < first  # type: ignore[no-any-return]
        case Function.LESS_THAN_OR_EQUAL:
            return column <= first  # type: ignore[no-any-return]
        case Function.VALUE_IN:
            return column.in_(values)  # type: ignore[no-any-return]
        case Function.VALUE_NOT_IN:
            return column.not_in(values)  # type: ignore[no-any-return]
        case Function.CONTAINS:
            return column.contains(str(first), autoescape=True)  # type: ignore[no-any-return]
        case Function.CONTAINS_CASE_INSENSITIVE:
            return column.icontains(str(first), autoescape=True)  # type: ignore[no-any-return]
        case Function.ENDS_WITH:
            return column.endswith(str(first), autoescape=True)  # type: ignore[no-any-return]
        case Function.NOT_ENDS_WITH:
            return not_(column.endswith(str(first), autoescape=True))  # type: ignore[no-any-return]
    raise ListQueryError(f"unsupported filter function {function}")


SpecialFilter = Callable[[str, int, list[str]], "ColumnElement[bool] | None"]


def apply_list_request(
    statement: Select[Any],
    request: list_pb2.ListRequest,
    fields: Mapping[str, Field],
    *,
    default_sort: tuple[str, bool],
    tiebreak: Any = None,
    special: SpecialFilter | None = None,
) -> tuple[Select[Any], Page]:
    """Apply filters, sort and paging; returns the statement (fetching ``limit + 1`` rows) and the page.

    ``default_sort`` is ``(field, descending)``; ``special`` may translate fields the map does not
    hold (``labels.<key>``), returning ``None`` to reject them.
    """
    if len(request.filters) > MAX_FILTERS:
        raise ListQueryError(f"at most {MAX_FILTERS} filters are accepted, not {len(request.filters)}")
    values_given = sum(len(item.values) for item in request.filters)
    if values_given > MAX_FILTER_VALUES:
        raise ListQueryError(f"at most {MAX_FILTER_VALUES} filter values are accepted in all, not {values_given}")
    clauses: list[ColumnElement[bool]] = []
    for item in request.filters:
        field = fields.get(item.field)
        if field is None:
            clause = special(item.field, item.function, list(item.values)) if special else None
            if clause is None:
                raise ListQueryError(f"cannot filter on {item.field!r}")
            clauses.append(clause)
            continue
        clauses.append(_clause(field, item.function, [_convert(field, value) for value in item.values]))
    if clauses:
        statement = statement.where(and_(*clauses))

    sorts = list(request.sort_by_fields) or ([request.sort_by] if request.sort_by.key else [])
    order: list[Any] = []
    for sort in sorts:
        field = fields.get(sort.key)
        if field is None:
            raise ListQueryError(f"cannot sort by {sort.key!r}")
        descending = sort.direction == list_pb2.Sort.Direction.DESCENDING
        order.append(field.column.desc() if descending else field.column.asc())
    if not order:
        key, descending = default_sort
        order.append(fields[key].column.desc() if descending else fields[key].column.asc())
    if tiebreak is not None:
        order.append(tiebreak)
    statement = statement.order_by(*order)

    offset = parse_bounded_int(request.token) if request.token else 0
    if offset is None:
        raise ListQueryError(f"invalid page token {request.token[:40]!r}; pass the token of the previous page")
    limit = request.limit or DEFAULT_LIMIT
    if limit < 0:
        raise ListQueryError("the limit must not be negative")
    limit = min(limit, MAX_LIMIT)
    return statement.offset(offset).limit(limit + 1), Page(offset=offset, limit=limit)
