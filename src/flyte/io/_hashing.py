"""Content hashes of files: computed while data is written, so cache keys follow the content.

A :class:`HashMethod` is fed the bytes of a file as they are written or uploaded and returns a
string; the string becomes the ``hash`` of the ``File`` and of its literal, which the cache key
uses instead of the (random) upload location.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["HashFunction", "HashMethod", "HashingWriter", "HashlibAccumulator", "PrecomputedValue", "resolve"]


@runtime_checkable
class HashMethod(Protocol):
    """Something that digests data chunk by chunk and returns a hash string.

    Example:
        >>> isinstance(HashlibAccumulator("sha256"), HashMethod)
        True
    """

    def update(self, data: Any, /) -> None:
        """Feed the next chunk of data."""

    def result(self) -> str:
        """Return the hash of everything fed so far."""


class HashFunction:
    """A hash computed by a function of the data.

    The function is applied to each chunk it is fed; :meth:`result` is its value for the last
    chunk. ``File.from_local`` feeds a whole file as one chunk, so the function sees the file's
    complete content.

    Args:
        fn: maps data to a hash string.

    Example:
        >>> h = HashFunction.from_fn(lambda data: str(len(data)))
        >>> h.update(b"abc")
        >>> h.result()
        '3'
    """

    def __init__(self, fn: Callable[[Any], str]) -> None:
        self._fn = fn
        self._value = ""

    @classmethod
    def from_fn(cls, fn: Callable[[Any], str]) -> HashFunction:
        """Build a :class:`HashFunction` from ``fn``.

        Example:
            >>> HashFunction.from_fn(lambda data: "fixed").result()
            ''
        """
        return cls(fn)

    def update(self, data: Any) -> None:
        """Apply the function to ``data`` and keep its value."""
        self._value = self._fn(data)

    def result(self) -> str:
        """Return the function's value for the last chunk."""
        return self._value


class HashlibAccumulator:
    """A ``hashlib`` digest (hex) of all the chunks fed, in order.

    Args:
        algorithm: a ``hashlib`` algorithm name such as ``"sha256"`` or ``"md5"``.

    Example:
        >>> h = HashlibAccumulator("md5")
        >>> h.update(b"ab"); h.update(b"c")
        >>> h.result() == hashlib.md5(b"abc").hexdigest()
        True
    """

    def __init__(self, algorithm: str = "sha256") -> None:
        self._digest = hashlib.new(algorithm)

    def update(self, data: Any) -> None:
        """Feed the next chunk."""
        self._digest.update(data.encode() if isinstance(data, str) else data)

    def result(self) -> str:
        """Return the hex digest."""
        return self._digest.hexdigest()


class PrecomputedValue:
    """A hash known in advance (a version string, a digest computed elsewhere); data is ignored.

    Example:
        >>> PrecomputedValue("v1").result()
        'v1'
    """

    def __init__(self, value: str) -> None:
        self._value = value

    def update(self, data: Any) -> None:
        """Ignore ``data``."""

    def result(self) -> str:
        """Return the precomputed value."""
        return self._value


def resolve(hash_method: HashMethod | str | None) -> HashMethod | None:
    """Turn the ``hash_method`` argument of the ``File`` constructors into a :class:`HashMethod`.

    A string is a precomputed hash value, as in Flyte 2.

    Example:
        >>> resolve("abc").result()
        'abc'
    """
    if hash_method is None or (isinstance(hash_method, str) and not hash_method):
        return None
    if isinstance(hash_method, str):
        return PrecomputedValue(hash_method)
    return hash_method


class HashingWriter:
    """Wraps an async writable file and feeds every chunk written to a :class:`HashMethod`.

    Example:
        >>> import asyncio, io
        >>> from flyte.storage._open import AsyncFile
        >>> h = HashlibAccumulator("md5")
        >>> writer = HashingWriter(AsyncFile(io.BytesIO(), remote=False, path="mem"), h)
        >>> _ = asyncio.run(writer.write(b"abc"))
        >>> h.result() == hashlib.md5(b"abc").hexdigest()
        True
    """

    def __init__(self, inner: Any, hash_method: HashMethod) -> None:
        self._inner = inner
        self._hash_method = hash_method

    async def write(self, data: Any) -> int:
        """Hash and write ``data``."""
        self._hash_method.update(data)
        return int(await self._inner.write(data))

    def result(self) -> str:
        """Return the hash of everything written."""
        return self._hash_method.result()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
