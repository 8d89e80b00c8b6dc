"""Errors across the wire: exceptions ⇄ ``core.ErrorDocument`` / ``core.ExecutionError``.

A failing task writes an ``ErrorDocument`` (``error.pb``): ``code`` is the original exception's
class name (or a Flyte code), ``kind`` says whether the backend may retry, ``origin`` who is to
blame. The backend reports the final failure of a child in ``ActionUpdate.error``
(``ExecutionError``), which the parent turns back into an exception (PROTOCOL.md §4.2).
"""

from __future__ import annotations

from flyteidl2.core import execution_pb2

from flyte.errors import (
    GPU_FAULT_CODES,
    ActionAbortedError,
    BaseRuntimeError,
    DeadlineExceededError,
    GPUFaultSystemError,
    GPUFaultUserError,
    MaxQueuedTimeExceededError,
    MaxRuntimeExceededError,
    NonRecoverableError,
    OOMError,
    RetriesExhaustedError,
    RuntimeDataValidationError,
    RuntimeSystemError,
    RuntimeUnknownError,
    RuntimeUserError,
    TaskInterruptedError,
    TaskTimeoutError,
)

__all__ = [
    "aborted_error",
    "error_document_from_exception",
    "exception_from_error_document",
    "exception_from_execution_error",
    "timeout_error_from_code",
]

_ContainerError = execution_pb2.ContainerError
_ExecutionError = execution_pb2.ExecutionError

_USER_CODES: dict[str, type[RuntimeUserError]] = {
    "OOM": OOMError,
    "OOMKilled": OOMError,
    "Interrupted": TaskInterruptedError,
    "RetriesExhausted": RetriesExhaustedError,
}

_TIMEOUT_CODES: dict[str, type[TaskTimeoutError]] = {
    "MAX_RUNTIME_EXCEEDED": MaxRuntimeExceededError,
    "DEADLINE_EXCEEDED": DeadlineExceededError,
    "QUEUED_TIMEOUT_EXCEEDED": MaxQueuedTimeExceededError,
}


def error_document_from_exception(error: BaseException) -> execution_pb2.ErrorDocument:
    """The ``error.pb`` a task writes when it fails with ``error``.

    Non-recoverable errors (``NonRecoverableError``, invalid inputs or outputs) are marked so the
    backend does not retry them; platform errors have origin ``SYSTEM``.

    Example:
        >>> error_document_from_exception(ValueError("bad 3")).error.code
        'ValueError'
    """
    if isinstance(error, BaseRuntimeError):
        code = error.code
        origin = _ExecutionError.SYSTEM if error.kind == "system" else _ExecutionError.USER
    else:
        code = type(error).__name__
        origin = _ExecutionError.USER
    final = isinstance(error, (NonRecoverableError, RuntimeDataValidationError, ActionAbortedError))
    return execution_pb2.ErrorDocument(
        error=_ContainerError(
            code=code,
            message=str(error),
            kind=_ContainerError.NON_RECOVERABLE if final else _ContainerError.RECOVERABLE,
            origin=origin,
        )
    )


def timeout_error_from_code(code: str, message: str, *, worker: str | None = None) -> TaskTimeoutError:
    """The timeout exception a backend timeout code names (``MAX_RUNTIME_EXCEEDED``, ...)."""
    error_class = _TIMEOUT_CODES.get(code.rsplit("|", 1)[-1], TaskTimeoutError)
    return error_class._from_parts(message or f"action {worker} timed out", code=code or None, worker=worker)


def exception_from_execution_error(
    error: execution_pb2.ExecutionError, *, worker: str | None = None
) -> BaseRuntimeError:
    """The exception a parent raises for a child that failed with ``error``.

    The code may be ``"<platform code>|<user code>"``; the user part picks specific classes
    (``OOM`` → ``OOMError``, ...). Timeout codes give the timeout errors.

    Example:
        >>> e = exception_from_execution_error(execution_pb2.ExecutionError(code="ValueError", message="bad",
        ...     kind=execution_pb2.ExecutionError.USER))
        >>> type(e).__name__, e.code, str(e)
        ('RuntimeUserError', 'ValueError', 'bad')
    """
    code = error.code
    user_code = code.rsplit("|", 1)[-1]
    if user_code in _TIMEOUT_CODES:
        return timeout_error_from_code(code, error.message, worker=worker)
    if user_code in GPU_FAULT_CODES:
        gpu_class = GPUFaultSystemError if error.kind == _ExecutionError.SYSTEM else GPUFaultUserError
        return gpu_class._from_parts(error.message, code=code, worker=worker)
    if error.kind == _ExecutionError.SYSTEM:
        return RuntimeSystemError._from_parts(error.message, code=code or None, worker=worker)
    if error.kind == _ExecutionError.UNKNOWN and not code:
        return RuntimeUnknownError._from_parts(error.message, worker=worker)
    error_class = _USER_CODES.get(user_code, RuntimeUserError)
    return error_class._from_parts(error.message, code=code or None, worker=worker)


def exception_from_error_document(
    document: execution_pb2.ErrorDocument, *, worker: str | None = None
) -> BaseRuntimeError:
    """The exception for an ``error.pb`` read back (used when an update carries no error)."""
    kind = _ExecutionError.SYSTEM if document.error.origin == _ExecutionError.SYSTEM else _ExecutionError.USER
    return exception_from_execution_error(
        _ExecutionError(code=document.error.code, message=document.error.message, kind=kind), worker=worker
    )


def aborted_error(message: str, *, worker: str | None = None) -> ActionAbortedError:
    """The error a parent raises for an aborted child."""
    return ActionAbortedError(message or f"action {worker} was aborted", worker=worker)
