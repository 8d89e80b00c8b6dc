"""Caching of task results: when a cached result may be reused, and under which version.

A task's cache key combines its inputs with a *version*. The version is either given
(``version_override``) or computed by :class:`CachePolicy` objects; the default policy,
:class:`FunctionBodyPolicy`, hashes the task's source code so that editing the function
invalidates old results.

Example:
    >>> normalize_cache(True).behavior
    'auto'
    >>> normalize_cache("disable").is_enabled()
    False
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

if TYPE_CHECKING:
    from flyte._image import Image

__all__ = [
    "Cache",
    "CacheBehavior",
    "CachePolicy",
    "CacheRequest",
    "FunctionBodyPolicy",
    "VersionParameters",
    "normalize_cache",
]

CacheBehavior = Literal["auto", "override", "disable"]

# Spellings accepted for ``behavior`` besides the three canonical ones.
_BEHAVIOR_ALIASES: dict[str, CacheBehavior] = {
    "enable": "auto",
    "enabled": "auto",
    "on": "auto",
    "true": "auto",
    "yes": "auto",
    "disabled": "disable",
    "false": "disable",
    "no": "disable",
    "none": "disable",
    "off": "disable",
}


@dataclass(frozen=True)
class VersionParameters:
    """What a :class:`CachePolicy` may look at to compute a version.

    Example:
        >>> VersionParameters(func=len).image is None
        True
    """

    func: Callable[..., Any] | None
    """The task function."""
    image: Image | str | None = None
    """The image the task runs in."""
    code_bundle: Any = None
    """The code bundle the task was shipped in, when there is one."""


@runtime_checkable
class CachePolicy(Protocol):
    """Computes a cache version from a task's definition.

    Implement ``get_version`` to make the version depend on anything else (a data schema, a
    model file, ...); return the same string for the same definition in every process.

    Example:
        >>> class SchemaPolicy:
        ...     def get_version(self, salt: str, params: VersionParameters) -> str:
        ...         return salt + "schema-v3"
        >>> isinstance(SchemaPolicy(), CachePolicy)
        True
    """

    def get_version(self, salt: str, params: VersionParameters) -> str:
        """The version for ``params``, mixed with ``salt``."""
        ...


def _function_source(func: Callable[..., Any]) -> str:
    """The function's source from its ``def`` line to its end, without decorators.

    Decorators are left out so that changing ``@env.task(cache=...)`` arguments does not by
    itself invalidate cached results; only the body and signature count.
    """
    import ast
    import inspect
    import textwrap

    func = inspect.unwrap(func)
    source = textwrap.dedent(inspect.getsource(func))
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a lambda inside a larger expression: hash the lines as they are
        return source
    node = tree.body[0] if tree.body else None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        lines = source.splitlines()
        return "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return source


def _code_fingerprint(func: Callable[..., Any]) -> str:
    """A stable text form of a function's bytecode, constants and names (nested code included)."""
    code = getattr(func, "__code__", None)
    if code is None:
        raise ValueError(
            f"cannot version the cache of {func!r}: it has neither source nor bytecode; "
            "pass Cache(version_override=...)"
        )

    def describe(code_object: Any) -> str:
        constants = [describe(c) if hasattr(c, "co_code") else repr(c) for c in code_object.co_consts]
        return f"{code_object.co_code.hex()}|{constants}|{code_object.co_names}|{code_object.co_varnames}"

    return describe(code)


@dataclass(frozen=True)
class FunctionBodyPolicy:
    """The default policy: a SHA-256 of the function's source text (without its decorators).

    The hash depends only on the text, so it is the same in every process and on every
    machine, and changes whenever the function's signature or body changes.

    Example:
        >>> FunctionBodyPolicy().get_version("", VersionParameters(func=None))
        ''
    """

    def get_version(self, salt: str, params: VersionParameters) -> str:
        """The hex digest of ``salt`` and the function's source; ``""`` when there is no function.

        Functions without a source file (a REPL, ``exec``) are versioned by their bytecode.

        Raises:
            ValueError: the function has neither source nor bytecode.
        """
        if params.func is None:
            return ""
        try:
            source = _function_source(params.func)
        except (OSError, TypeError):
            # No source file (a REPL, a notebook cell, `python -c`): version by the compiled code,
            # which changes with the body just the same, though only within one Python version.
            source = _code_fingerprint(params.func)
        return hashlib.sha256(f"{salt}\x00{source}".encode()).hexdigest()


def _default_policies() -> tuple[CachePolicy, ...]:
    return (FunctionBodyPolicy(),)


@dataclass(frozen=True)
class Cache:
    """How a task's results are cached.

    ``behavior`` is ``"auto"`` (version computed by the policies), ``"override"`` (version
    given by ``version_override``; the policies are used when it is missing) or ``"disable"``.

    Example:
        >>> cache = Cache("auto", ignored_inputs="verbose", salt="v2")
        >>> cache.ignored_inputs
        ('verbose',)
        >>> Cache("override", version_override="2024-06").get_version()
        '2024-06'
    """

    behavior: CacheBehavior
    """``"auto"``, ``"override"`` or ``"disable"`` (``"on"``/``"off"`` and similar are accepted)."""
    version_override: str | None = None
    """A fixed cache version; when set, the policies are not consulted."""
    serialize: bool = False
    """Run at most one instance per cache key at a time; others wait for its result."""
    ignored_inputs: tuple[str, ...] | str = field(default_factory=tuple)
    """Inputs left out of the cache key (a name or a tuple of names); always a tuple afterwards."""
    salt: str = ""
    """Mixed into the version, to invalidate results without changing code."""
    policies: list[CachePolicy] | tuple[CachePolicy, ...] | CachePolicy | None = None
    """Policies that compute the version; :class:`FunctionBodyPolicy` when not given."""
    max_age: timedelta | int | None = None
    """How long a cached result stays valid (seconds or a timedelta); ``None`` means forever."""

    def __post_init__(self) -> None:
        behavior = self.behavior
        if isinstance(behavior, str) and behavior not in get_args(CacheBehavior):
            behavior = _BEHAVIOR_ALIASES.get(behavior, behavior)  # type: ignore[assignment]
        if behavior not in get_args(CacheBehavior):
            raise ValueError(
                f"Cache behavior must be one of {list(get_args(CacheBehavior))} "
                f"(or an alias: {sorted(_BEHAVIOR_ALIASES)}), got {self.behavior!r}"
            )
        object.__setattr__(self, "behavior", behavior)
        if self.version_override is not None and (
            not isinstance(self.version_override, str) or not self.version_override
        ):
            raise ValueError(f"Cache version_override must be a non-empty string, got {self.version_override!r}")
        if not isinstance(self.salt, str):
            raise ValueError(f"Cache salt must be a string, got {self.salt!r}")
        ignored = (self.ignored_inputs,) if isinstance(self.ignored_inputs, str) else tuple(self.ignored_inputs)
        for name in ignored:
            if not isinstance(name, str) or not name:
                raise ValueError(f"Cache ignored_inputs must be input names, got {self.ignored_inputs!r}")
        object.__setattr__(self, "ignored_inputs", ignored)
        object.__setattr__(self, "policies", self._normalize_policies())
        if self.max_age is not None:
            max_age = self.max_age
            if isinstance(max_age, bool) or not isinstance(max_age, (int, timedelta)):
                raise ValueError(f"Cache max_age must be seconds (int) or a timedelta, got {max_age!r}")
            if isinstance(max_age, int):
                max_age = timedelta(seconds=max_age)
            if max_age < timedelta(0):
                raise ValueError(f"Cache max_age must not be negative, got {self.max_age!r}")
            object.__setattr__(self, "max_age", max_age)

    def _normalize_policies(self) -> tuple[CachePolicy, ...]:
        policies = self.policies
        if policies is None:
            return () if self.behavior == "disable" else _default_policies()
        items = (policies,) if isinstance(policies, CachePolicy) else tuple(policies)
        for policy in items:
            if not isinstance(policy, CachePolicy):
                raise ValueError(f"Cache policies must have a get_version(salt, params) method, got {policy!r}")
        return items

    @property
    def max_age_seconds(self) -> float | None:
        """How long a cached entry stays valid, in seconds; ``None`` for no limit."""
        if self.max_age is None:
            return None
        return self.max_age.total_seconds() if isinstance(self.max_age, timedelta) else float(self.max_age)

    def is_enabled(self) -> bool:
        """Whether results may be cached at all.

        Example:
            >>> Cache("override", version_override="1").is_enabled()
            True
        """
        return self.behavior != "disable"

    def get_ignored_inputs(self) -> tuple[str, ...]:
        """The names of inputs left out of the cache key."""
        return tuple(self.ignored_inputs)

    def get_version(self, params: VersionParameters | None = None) -> str:
        """The cache version: ``version_override`` if set, else one hex digest over every policy.

        Returns ``""`` when caching is disabled.

        Raises:
            ValueError: no ``version_override`` and no ``params``, no policies, or a policy failed.

        Example:
            >>> Cache("disable").get_version()
            ''
        """
        if not self.is_enabled():
            return ""
        if self.version_override is not None:
            return self.version_override
        if params is None:
            raise ValueError("Cache.get_version needs VersionParameters when version_override is not set")
        policies = self.policies
        assert isinstance(policies, tuple)
        if not policies:
            raise ValueError("Cache needs at least one policy when version_override is not set")
        digest = hashlib.sha256(self.salt.encode())
        for policy in policies:
            try:
                version = policy.get_version(self.salt, params)
            except Exception as e:  # re-raised with the policy named; nothing is swallowed
                raise ValueError(f"cache policy {type(policy).__name__} failed to compute a version: {e}") from e
            digest.update(b"\x00" + version.encode())
        return digest.hexdigest()


CacheRequest = Cache | bool | CacheBehavior
"""What ``cache=`` accepts: a :class:`Cache`, ``True``/``False``, or a behaviour string."""


def normalize_cache(request: CacheRequest | None) -> Cache:
    """Turn a ``cache=`` argument into a :class:`Cache`.

    ``None`` and ``False`` disable caching; ``True`` means ``"auto"``; strings are behaviours.

    Raises:
        TypeError: the request is none of the accepted forms.

    Example:
        >>> normalize_cache(None).behavior
        'disable'
    """
    if request is None or request is False:
        return Cache("disable")
    if request is True:
        return Cache("auto")
    if isinstance(request, Cache):
        return request
    if isinstance(request, str):
        return Cache(request)
    raise TypeError(f"cache must be a flyte.Cache, a bool or one of 'auto', 'override', 'disable'; got {request!r}")
