"""One retry policy for the SDK's transient failures, on ``tenacity``.

Before, five hand-written loops (two signed-URL uploads, the storage transfers, the Connect
client's UNAVAILABLE retries, ...) each counted attempts and doubled delays their own way. Now
they state what is transient and how long to try; :func:`transient_retrying` does the rest:
exponential backoff from ``first_delay`` capped at ``max_delay``, a number of attempts and/or a
time budget, and an optional hook before each sleep (for a warning in the log).
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_exponential,
)

__all__ = [
    "RETRIED_HTTP_STATUSES",
    "UPLOAD_PROGRESS",
    "RetryableHTTPStatus",
    "call_with_retries",
    "put_signed_url",
    "transient_retrying",
]

UPLOAD_PROGRESS: contextvars.ContextVar[Callable[[str, int, int], None] | None] = contextvars.ContextVar(
    "flyte_upload_progress", default=None
)
"""A callback ``(what, bytes sent, total bytes)`` for signed-URL uploads (the CLI's progress bars)."""

_CHUNK = 256 * 1024

T = TypeVar("T")

RETRIED_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try: timeouts, throttling and server-side failures."""


class RetryableHTTPStatus(Exception):
    """An HTTP response whose status is in :data:`RETRIED_HTTP_STATUSES` (raised to trigger a retry)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status
        self.detail = detail


def transient_retrying(
    is_transient: Callable[[BaseException], bool],
    *,
    attempts: int | None = 4,
    budget_s: float | None = None,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """An ``AsyncRetrying`` that retries errors for which ``is_transient`` is true.

    ``attempts`` counts every try (the first included); ``budget_s`` bounds the time spent from
    the first try. Give either or both; the last error is re-raised as it is.

    Example:
        >>> import asyncio
        >>> calls = []
        >>> async def flaky():
        ...     calls.append(1)
        ...     if len(calls) < 3:
        ...         raise ConnectionError("try again")
        ...     return "ok"
        >>> async def main():
        ...     async for attempt in transient_retrying(lambda e: isinstance(e, ConnectionError), first_delay=0):
        ...         with attempt:
        ...             return await flaky()
        >>> asyncio.run(main()), len(calls)
        ('ok', 3)
    """
    stops: list[Any] = []
    if attempts is not None:
        stops.append(stop_after_attempt(attempts))
    if budget_s is not None:
        stops.append(stop_after_delay(budget_s))
    if not stops:
        raise ValueError("give attempts, budget_s or both")
    options: dict[str, Any] = {}
    if before_sleep is not None:
        options["before_sleep"] = before_sleep
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stops[0] if len(stops) == 1 else stop_any(*stops),
        wait=wait_exponential(multiplier=first_delay, exp_base=2, min=first_delay, max=max_delay),
        reraise=True,
        **options,
    )


async def call_with_retries(operation: Callable[[], Awaitable[T]], retrying: AsyncRetrying) -> T:
    """``await operation()`` under ``retrying``; the result of the first try that succeeds."""
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def put_signed_url(
    url: str,
    body: bytes | Callable[[], bytes],
    headers: dict[str, str],
    *,
    what: str,
    error: Callable[[str], Exception],
    verify: bool = True,
    timeout_s: float = 60.0,
) -> None:
    """PUT ``body`` to a signed URL, retrying transport errors and :data:`RETRIED_HTTP_STATUSES`.

    Args:
        url: the signed URL (its query string is left out of messages).
        body: the bytes, or a callable that reads them (called once per try).
        headers: the headers the signature covers (Content-MD5, Content-Length, ...).
        what: what is uploaded, for messages ("the code bundle", a path).
        error: builds the caller's exception from a one-line message.
        verify: verify TLS certificates.
        timeout_s: the timeout of one try.

    Raises:
        Exception: ``error(message)`` once the retries are spent or the server refused the upload.
    """
    import httpx

    where = url.split("?")[0]

    def transient(failure: BaseException) -> bool:
        return isinstance(failure, (httpx.TransportError, RetryableHTTPStatus))

    report = UPLOAD_PROGRESS.get()

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        assert report is not None
        for start in range(0, len(data), _CHUNK):
            yield data[start : start + _CHUNK]
            report(what, min(start + _CHUNK, len(data)), len(data))

    async def once() -> None:
        data = body() if callable(body) else body
        content: Any = data if report is None else chunks(data)
        sized = (
            headers
            if report is None or any(k.lower() == "content-length" for k in headers)
            else {
                **headers,
                "Content-Length": str(len(data)),
            }
        )  # a streamed body is sent with its length, not chunked (signed URLs may require it)
        response = await client.put(url, content=content, headers=sized)
        if response.status_code < 300:
            return
        detail = response.text.strip().splitlines()[0] if response.text.strip() else ""
        if response.status_code in RETRIED_HTTP_STATUSES:
            raise RetryableHTTPStatus(response.status_code, detail)
        raise error(f"Uploading {what} failed with HTTP {response.status_code}" + (f": {detail}" if detail else ""))

    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0), verify=verify) as client:
        try:
            await call_with_retries(once, transient_retrying(transient, attempts=4, first_delay=0.5))
        except RetryableHTTPStatus as failure:
            raise error(f"Uploading {what} failed with {failure}") from failure
        except httpx.TransportError as failure:
            raise error(f"Cannot upload {what} to {where}: {failure}") from failure
