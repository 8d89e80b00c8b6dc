"""Inputs and outputs on the wire: ``task.Inputs`` / ``task.Outputs`` ⇄ literal dictionaries."""

from __future__ import annotations

from collections.abc import Mapping

from flyteidl2.core import literals_pb2
from flyteidl2.task import common_pb2

__all__ = ["inputs_from_proto", "inputs_to_proto", "outputs_from_proto", "outputs_to_proto"]


def inputs_to_proto(
    literals: Mapping[str, literals_pb2.Literal], context: Mapping[str, str] | None = None
) -> common_pb2.Inputs:
    """``Inputs{literals (in the given order), context}``; ``context`` is the run's custom context.

    Example:
        >>> inputs_to_proto({}, {"team": "ml"}).context[0].key
        'team'
    """
    return common_pb2.Inputs(
        literals=[common_pb2.NamedLiteral(name=name, value=value) for name, value in literals.items()],
        context=[literals_pb2.KeyValuePair(key=key, value=value) for key, value in (context or {}).items()],
    )


def inputs_from_proto(inputs: common_pb2.Inputs) -> tuple[dict[str, literals_pb2.Literal], dict[str, str]]:
    """The literals by name and the custom context of an ``Inputs`` message."""
    return {named.name: named.value for named in inputs.literals}, {pair.key: pair.value for pair in inputs.context}


def outputs_to_proto(literals: Mapping[str, literals_pb2.Literal]) -> common_pb2.Outputs:
    """``Outputs{literals}`` named ``o0, o1, ...`` (or the ``NamedTuple`` fields)."""
    return common_pb2.Outputs(
        literals=[common_pb2.NamedLiteral(name=name, value=value) for name, value in literals.items()]
    )


def outputs_from_proto(outputs: common_pb2.Outputs) -> dict[str, literals_pb2.Literal]:
    """The output literals by name."""
    return {named.name: named.value for named in outputs.literals}
