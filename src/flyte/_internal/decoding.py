"""Options that change how literals are decoded into Python values, for the code that decodes them.

``preserve_original_types`` (``flyte.with_runcontext(preserve_original_types=True)``): a value
whose literal records the Python type it was made from (e.g. a dataframe written from a
``pandas.DataFrame``) is decoded to that type rather than to Flyte's generic wrapper
(``flyte.io.DataFrame``) when the reader does not name a type itself. Handles of remote runs set
it around their decoding; transformers read it with :func:`preserving_original_types`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["preserve_original_types", "preserving_original_types"]

_preserve: contextvars.ContextVar[bool] = contextvars.ContextVar("flyte_preserve_original_types", default=False)


def preserving_original_types() -> bool:
    """Whether the decoding under way should return the originally written Python types.

    Example:
        >>> preserving_original_types()
        False
    """
    return _preserve.get()


@contextlib.contextmanager
def preserve_original_types(enabled: bool) -> Iterator[None]:
    """Decode with ``preserve_original_types`` set to ``enabled`` inside the block.

    Example:
        >>> with preserve_original_types(True):
        ...     preserving_original_types()
        True
    """
    token = _preserve.set(enabled)
    try:
        yield
    finally:
        _preserve.reset(token)
