"""Plain data objects that describe runs, actions and the context a task runs in.

These are public and protobuf-free: conversion to and from ``flyteidl2`` messages lives in
``flyte._internal.serde``.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flyte._context import CallCounter

if TYPE_CHECKING:
    from flyte._checkpoint import Checkpoint
    from flyte._internal.serde._context import CodeBundle, ImageCache, SerializationContext
    from flyte.report import Report
    from flyte.types._interface import NativeInterface

__all__ = [
    "CLUSTERED_WORKER_ENV",
    "MAX_INLINE_IO_BYTES",
    "NULL_TASK_CONTEXT",
    "ActionID",
    "ActionPhase",
    "CallCounter",
    "CheckpointPaths",
    "CodeBundle",
    "Docstring",
    "GroupData",
    "ImageCache",
    "NativeInterface",
    "PathRewrite",
    "RawDataPath",
    "SerializationContext",
    "TaskContext",
    "extract_return_annotation",
    "generate_random_name",
    "is_clustered_worker_env",
    "literal_to_enum",
]

MAX_INLINE_IO_BYTES = 10 * 1024 * 1024
"""The default limit of a task's inputs or outputs sent inline (``max_inline_io_bytes``): 10 MiB."""

CLUSTERED_WORKER_ENV = "FLYTE_CLUSTERED_WORKER"
"""Set in every worker process of a clustered (multi-node) task."""

# Defined with the serialisation code (which needs protobuf); loaded on first use.
_LAZY = {
    "CodeBundle": "flyte._internal.serde._context",
    "ImageCache": "flyte._internal.serde._context",
    "SerializationContext": "flyte._internal.serde._context",
    "NativeInterface": "flyte.types._interface",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte.models' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def is_clustered_worker_env(env: Mapping[str, str]) -> bool:
    """Whether ``env`` is the environment of a worker of a clustered task (any launcher).

    Example:
        >>> is_clustered_worker_env({"TORCHELASTIC_RUN_ID": "r1"}), is_clustered_worker_env({})
        (True, False)
    """
    return bool(env.get(CLUSTERED_WORKER_ENV) or env.get("TORCHELASTIC_RUN_ID"))


def generate_random_name() -> str:
    """A fresh unique name (a UUID4 string), for anonymous tasks and runs."""
    import uuid

    return str(uuid.uuid4())


def extract_return_annotation(return_annotation: Any) -> dict[str, type]:
    """The outputs a return annotation declares: ``{"o0": int}``, ``{"o0": int, "o1": str}`` for a
    tuple, the field names of a ``NamedTuple``, ``{}`` for ``None`` or no annotation.

    Example:
        >>> extract_return_annotation(tuple[int, str])
        {'o0': <class 'int'>, 'o1': <class 'str'>}
    """
    import inspect

    from flyte.types._interface import _output_types

    if return_annotation is inspect.Signature.empty:
        return {}
    outputs, _ = _output_types(return_annotation)
    return outputs


def literal_to_enum(literal_type: Any) -> type[enum.Enum]:
    """An ``Enum`` class whose members are the string values of a ``typing.Literal``.

    Example:
        >>> Color = literal_to_enum(Literal["red", "blue"])
        >>> [m.value for m in Color]
        ['red', 'blue']
    """
    import typing

    values = typing.get_args(literal_type)
    if typing.get_origin(literal_type) is not Literal or not values:
        raise TypeError(f"{literal_type!r} is not a typing.Literal")
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"only Literals of strings become enums, got {values!r}")
    return enum.Enum("LiteralEnum", {str(v): v for v in values})  # type: ignore[return-value]


@dataclass(frozen=True)
class CheckpointPaths:
    """Where an attempt reads its predecessor's checkpoint from and writes its own."""

    prev_checkpoint_path: str | None
    """The previous attempt's checkpoint prefix (``None`` on a first attempt)."""
    checkpoint_path: str | None
    """This attempt's checkpoint prefix."""


@dataclass(frozen=True)
class PathRewrite:
    """Rewrites paths that start with ``old_prefix`` to start with ``new_prefix`` instead.

    Example:
        >>> rewrite = PathRewrite.from_str("s3://bucket/->/mnt/bucket/")
        >>> rewrite.apply("s3://bucket/data.csv")
        '/mnt/bucket/data.csv'
    """

    old_prefix: str
    new_prefix: str

    def __post_init__(self) -> None:
        if not self.old_prefix or not self.new_prefix:
            raise ValueError("old_prefix and new_prefix must not be empty")
        if self.old_prefix == self.new_prefix:
            raise ValueError("old_prefix and new_prefix must differ")

    @classmethod
    def from_str(cls, pattern: str) -> PathRewrite:
        """Parse ``"old_prefix->new_prefix"``."""
        old, separator, new = pattern.partition("->")
        if not separator or "->" in new:
            raise ValueError(f"Invalid path rewrite {pattern!r}: expected 'old_prefix->new_prefix'")
        return cls(old_prefix=old, new_prefix=new)

    def apply(self, path: str) -> str:
        """``path`` with its prefix rewritten (unchanged when it does not start with ``old_prefix``)."""
        if path.startswith(self.old_prefix):
            return self.new_prefix + path[len(self.old_prefix) :]
        return path

    def __repr__(self) -> str:
        return f"{self.old_prefix}->{self.new_prefix}"


class Docstring:
    """A Google-style docstring, split into a summary, a description and per-parameter texts.

    Example:
        >>> def f(x: int) -> int:
        ...     \"\"\"Double it.
        ...
        ...     Args:
        ...         x: the number.
        ...
        ...     Returns:
        ...         twice x.
        ...     \"\"\"
        >>> d = Docstring(callable_=f)
        >>> d.short_description, d.input_descriptions, d.output_descriptions
        ('Double it.', {'x': 'the number.'}, {'o0': 'twice x.'})
    """

    def __init__(self, docstring: str | None = None, callable_: Any = None) -> None:
        import inspect

        text = docstring if docstring is not None else (inspect.getdoc(callable_) if callable_ is not None else None)
        self._text = inspect.cleandoc(text) if text else ""
        self._short, self._long, self._inputs, self._returns = self._parse(self._text)

    @classmethod
    def _parse(cls, text: str) -> tuple[str | None, str | None, dict[str, str], list[str]]:
        # docstring_parser reads Google, NumPy and reST styles; continuation lines are joined.
        from docstring_parser import parse

        if not text:
            return None, None, {}, []
        parsed = parse(text)
        inputs = {param.arg_name: _one_line(param.description) for param in parsed.params if param.arg_name}
        returns = [_one_line(item.description) for item in parsed.many_returns if item.description]
        return parsed.short_description or None, parsed.long_description or None, inputs, returns

    @property
    def short_description(self) -> str | None:
        """The first line."""
        return self._short

    @property
    def long_description(self) -> str | None:
        """The text after the first line, before the sections."""
        return self._long

    @property
    def input_descriptions(self) -> dict[str, str]:
        """Parameter name → description, from the ``Args:`` section."""
        return dict(self._inputs)

    @property
    def output_descriptions(self) -> dict[str, str]:
        """``{"o0": ...}`` from the ``Returns:`` section."""
        return {"o0": " ".join(self._returns)} if self._returns else {}

    def __str__(self) -> str:
        return self._text



def _one_line(text: str | None) -> str:
    return " ".join(line.strip() for line in (text or "").splitlines() if line.strip())

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 36)
        digits.append(_BASE36[remainder])
    return "".join(reversed(digits)) or "0"


class ActionPhase(str, enum.Enum):
    """The lifecycle of an action, as Flyte 2 reports it (``flyteidl2.common.ActionPhase``)."""

    QUEUED = "queued"
    WAITING_FOR_RESOURCES = "waiting_for_resources"
    INITIALIZING = "initializing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"
    PAUSED = "paused"
    RECOVERED = "recovered"

    @property
    def is_terminal(self) -> bool:
        """Whether the action has finished and will not change again."""
        return self in _TERMINAL_PHASES

    @property
    def is_success(self) -> bool:
        """Whether the action produced outputs."""
        return self in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED)


_TERMINAL_PHASES = frozenset(
    {ActionPhase.SUCCEEDED, ActionPhase.FAILED, ActionPhase.ABORTED, ActionPhase.TIMED_OUT, ActionPhase.RECOVERED}
)


@dataclass(frozen=True)
class ActionID:
    """Identifies one action of a run: ``(project, domain, run name, action name)``.

    The root action of every run is named ``a0``; children get deterministic names (see
    :meth:`new_sub_action`) so that a retried parent finds the children it already ran.
    """

    name: str
    """The action's name, unique within its run."""
    run_name: str | None = None
    """The run the action belongs to."""
    project: str | None = None
    """The project of the run (``None`` in local mode)."""
    domain: str | None = None
    """The domain of the run (``None`` in local mode)."""
    org: str | None = None
    """The organisation (ignored by our control plane, kept for Flyte 2 compatibility)."""

    def new_sub_action(self, *, inputs_hash: str, task_identity: str, sequence: int, group: str | None) -> ActionID:
        """The deterministic id of a child action called from this one.

        The name is the base36 md5 of ``{parent}-{inputs hash}-{task}-{sequence}[-{group}]``,
        25 characters long, as Flyte 2 computes it.

        Example:
            >>> ActionID(name="a0", run_name="r1").new_sub_action(
            ...     inputs_hash="h", task_identity="env.t", sequence=0, group=None).name
            '...'  # doctest: +SKIP
        """
        seed = f"{self.name}-{inputs_hash}-{task_identity}-{sequence}"
        if group:
            seed = f"{seed}-{group}"
        digest = int.from_bytes(hashlib.md5(seed.encode(), usedforsecurity=False).digest(), "big")
        name = _base36(digest)[:25].rjust(25, "0")
        return ActionID(name=name, run_name=self.run_name, project=self.project, domain=self.domain, org=self.org)

    def unique_id(self) -> str:
        """A short string identifying this action across runs."""
        raw = f"{self.project}/{self.domain}/{self.run_name}/{self.name}".encode()
        return base64.b32encode(hashlib.sha1(raw, usedforsecurity=False).digest()[:10]).decode().lower()


@dataclass(frozen=True)
class RawDataPath:
    """Where a run writes offloaded data (files, directories, dataframes)."""

    path: str
    """A local path or an object-store URI prefix."""

    def get_random_remote_path(self, file_name: str | None = None) -> str:
        """A fresh, unique location under :attr:`path`, optionally ending with ``file_name``."""
        import uuid

        base = f"{self.path.rstrip('/')}/{uuid.uuid4().hex}"
        return f"{base}/{file_name}" if file_name else base


@dataclass(frozen=True)
class GroupData:
    """The :func:`flyte.group` a call is made in."""

    name: str
    """The group's name, as shown in the console."""


@dataclass
class TaskContext:
    """What a running task knows about itself; returned by :func:`flyte.ctx`.

    Example:
        >>> import flyte
        >>> env = flyte.TaskEnvironment(name="docs")
        >>> @env.task
        ... async def who_am_i() -> str:
        ...     return flyte.ctx().action.name
    """

    action: ActionID
    """The id of the running action."""
    version: str
    """The code version the task runs at."""
    raw_data_path: RawDataPath
    """Where offloaded data of this run goes."""
    output_path: str
    """The directory this attempt writes its outputs (and report) to."""
    run_base_dir: str
    """The directory (or URI prefix) of the whole run."""
    report: Report
    """The HTML report of this action (see :mod:`flyte.report`)."""
    mode: Literal["local", "remote", "hybrid"] = "local"
    """Where the task runs."""
    attempt_number: int = 0
    """0 on the first attempt, 1 on the first retry, ..."""
    group_data: GroupData | None = None
    """The group the action was called in, if any."""
    custom_context: dict[str, str] = field(default_factory=dict)
    """Key/values propagated from the run to every action (see :func:`flyte.custom_context`)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Free-form per-action data for plugins."""
    run_start_time: datetime | None = None
    """When the run started (UTC)."""
    task_name: str = ""
    """The full name of the running task (``env.function``)."""
    input_path: str | None = None
    """Where this attempt's inputs were read from (remote mode)."""
    checkpoint_paths: CheckpointPaths | None = None
    """This attempt's checkpoint prefixes (see :attr:`checkpoint`)."""
    code_bundle: CodeBundle | None = None
    """The code bundle the task was loaded from (remote mode)."""
    compiled_image_cache: ImageCache | None = None
    """The images chosen for each environment of the run."""
    interactive_mode: bool = False
    """Whether the task was sent as a pickle from an interactive session."""
    disable_run_cache: bool = False
    """Whether the run asked to skip cache lookups."""
    in_driver_literal_conversion: bool = False
    """Set while the driver converts values outside any action."""
    task_action: ActionID | None = None
    """The action of the task itself, when this context belongs to a trace inside it."""

    def is_in_cluster(self) -> bool:
        """Whether the task runs on a control plane rather than in local mode."""
        return self.mode == "remote"

    def replace(self, **changes: Any) -> TaskContext:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def checkpoint(self) -> Checkpoint | None:
        """A :class:`flyte.Checkpoint` for this attempt's checkpoint prefixes, or ``None`` without them.

        Example:
            >>> cp = flyte.ctx().checkpoint  # doctest: +SKIP
            >>> state = cp.load_sync() if cp and cp.prev_exists() else None  # doctest: +SKIP
        """
        paths = self.checkpoint_paths
        if paths is None or not paths.checkpoint_path:
            return None
        from flyte._checkpoint import Checkpoint

        return Checkpoint(paths.checkpoint_path, paths.prev_checkpoint_path)

    # Set by the launcher of a distributed task (torchrun, a JAX launcher); None otherwise.
    @property
    def rank(self) -> int | None:
        """This worker's global rank (``$RANK``)."""
        return _env_int("RANK")

    @property
    def local_rank(self) -> int | None:
        """This worker's rank on its node (``$LOCAL_RANK``)."""
        return _env_int("LOCAL_RANK")

    @property
    def world_size(self) -> int | None:
        """The number of workers (``$WORLD_SIZE``)."""
        return _env_int("WORLD_SIZE")

    @property
    def local_world_size(self) -> int | None:
        """The number of workers on this node (``$LOCAL_WORLD_SIZE``)."""
        return _env_int("LOCAL_WORLD_SIZE")

    @property
    def node_rank(self) -> int | None:
        """This node's rank (``$NODE_RANK``)."""
        return _env_int("NODE_RANK")

    @property
    def nnodes(self) -> int | None:
        """The number of nodes (``$NNODES``)."""
        return _env_int("NNODES")

    @property
    def master_addr(self) -> str | None:
        """The rendezvous host (``$MASTER_ADDR``)."""
        return os.environ.get("MASTER_ADDR")

    @property
    def master_port(self) -> int | None:
        """The rendezvous port (``$MASTER_PORT``)."""
        return _env_int("MASTER_PORT")

    @property
    def restart_attempt(self) -> int | None:
        """How many times the set of workers was restarted (``$JOBSET_RESTART_ATTEMPT``)."""
        return _env_int("JOBSET_RESTART_ATTEMPT")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


class _NullTaskContext(TaskContext):
    """A falsy :class:`TaskContext` whose fields are all ``None``: what code outside a task can
    read without a ``None`` check (``if flyte.ctx():`` still tells the two apart)."""

    def __init__(self) -> None:
        for f in fields(TaskContext):
            object.__setattr__(self, f.name, None)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NullTaskContext()"


NULL_TASK_CONTEXT: TaskContext = _NullTaskContext()
"""The stand-in context outside any task (falsy, every field ``None``)."""
