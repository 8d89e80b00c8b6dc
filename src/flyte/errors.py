"""Exceptions raised by Flyte, one hierarchy.

Every error that crosses a task boundary arrives as a :class:`BaseRuntimeError` subclass whose
``code`` is the name of the original exception class (``"ValueError"``) or a Flyte code, so that
callers can branch on it the same way in local and remote mode::

    Exception
    ├── BaseRuntimeError (RuntimeError)            code, kind, worker
    │   ├── RuntimeUserError                       the user's code failed
    │   │   ├── NonRecoverableError                never retried
    │   │   ├── TaskTimeoutError
    │   │   │   ├── MaxRuntimeExceededError
    │   │   │   └── DeadlineExceededError
    │   │   ├── RetriesExhaustedError
    │   │   ├── ActionAbortedError
    │   │   ├── CustomError
    │   │   ├── OOMError / TaskInterruptedError
    │   │   ├── RuntimeDataValidationError         an input or output does not match its type
    │   │   ├── NotInTaskContextError
    │   │   ├── SyncTaskCallInAsyncContextError
    │   │   ├── TraceDoesNotAllowNestedTasksError
    │   │   ├── InlineIOMaxBytesBreached
    │   │   ├── RemoteTaskNotFoundError / RemoteTaskUsageError
    │   │   ├── ModuleLoadError / CodeBundleError / DeploymentError / ImageBuildError
    │   │   ├── ParameterMaterializationError
    │   │   └── RestrictedTypeError
    │   ├── RuntimeSystemError                     the platform failed (worker lost, ...)
    │   │   └── ControlPlaneError                  the control plane refused or failed a request
    │   ├── RuntimeUnknownError
    │   ├── InitializationError                    flyte.init / configuration problems
    │   └── LogsNotYetAvailableError
    ├── NotFoundError (RuntimeError)               a run, action, task, project, trigger or secret
    │   │                                          does not exist (RemoteTaskNotFoundError is one too)
    │   └── ActionNotFoundError
    └── RunAlreadyExistsError (RuntimeError)

All structured fields are keyword-only; the message is the only positional argument.

Example:
    >>> try:
    ...     raise NonRecoverableError("input is corrupt")
    ... except RuntimeUserError as e:
    ...     (e.code, e.kind, str(e))
    ('NonRecoverableError', 'user', 'input is corrupt')
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["system", "unknown", "user"]

__all__ = [
    "ActionAbortedError",
    "ActionNotFoundError",
    "BaseRuntimeError",
    "CodeBundleError",
    "ControlPlaneError",
    "CustomError",
    "DeadlineExceededError",
    "DeploymentError",
    "ErrorKind",
    "ImageBuildError",
    "InitializationError",
    "InlineIOMaxBytesBreached",
    "LogsNotYetAvailableError",
    "MaxQueuedTimeExceededError",
    "MaxRuntimeExceededError",
    "ModuleLoadError",
    "NonRecoverableError",
    "NotFoundError",
    "NotInTaskContextError",
    "OOMError",
    "ParameterMaterializationError",
    "RemoteTaskNotFoundError",
    "RemoteTaskUsageError",
    "RestrictedTypeError",
    "RetriesExhaustedError",
    "RunAlreadyExistsError",
    "RuntimeDataValidationError",
    "RuntimeSystemError",
    "RuntimeUnknownError",
    "RuntimeUserError",
    "SyncTaskCallInAsyncContextError",
    "TaskInterruptedError",
    "TaskTimeoutError",
    "TraceDoesNotAllowNestedTasksError",
]


class BaseRuntimeError(RuntimeError):
    """Root of the errors that Flyte raises for a failed action or a misuse of the runtime.

    Attributes:
        code: the original exception's class name, or a Flyte error code.
        kind: who is to blame: ``"user"``, ``"system"`` or ``"unknown"``.
        worker: where it happened (an action or host name), when known.
    """

    default_kind: ErrorKind = "unknown"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        worker: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code: str = code or type(self).__name__
        self.kind: ErrorKind = kind or self.default_kind
        self.worker = worker

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self)

    @property
    def root_cause_message(self) -> str:
        """Same as :attr:`message`; kept for programs written against Flyte 2."""
        return str(self)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields must survive pickling (errors travel between processes).
        return (_rebuild_error, (type(self), str(self), self.__dict__))


def _rebuild_error(cls: type[BaseRuntimeError], message: str, state: dict[str, object]) -> BaseRuntimeError:
    error = cls.__new__(cls)
    RuntimeError.__init__(error, message)
    error.__dict__.update(state)
    return error


class RuntimeUserError(BaseRuntimeError):
    """The user's code raised; ``code`` names the original exception class."""

    default_kind = "user"


class RuntimeSystemError(BaseRuntimeError):
    """The platform failed to run an action (a lost worker, a storage failure, ...)."""

    default_kind = "system"


class ControlPlaneError(RuntimeSystemError):
    """The control plane could not be reached, or refused or failed a request.

    ``code`` is the Connect status (``"UNAVAILABLE"``, ``"INVALID_ARGUMENT"``, ...).

    Example:
        >>> ControlPlaneError("Cannot reach the Flyte control plane at http://localhost:8090", code="UNAVAILABLE").code
        'UNAVAILABLE'
    """


class NotFoundError(RuntimeError):
    """A run, action, task, project, trigger or secret does not exist on the control plane."""


class RuntimeUnknownError(BaseRuntimeError):
    """An action failed for a reason that could not be classified."""


class InitializationError(BaseRuntimeError):
    """Flyte was not initialised, or was initialised with an invalid configuration."""

    default_kind = "user"


class LogsNotYetAvailableError(BaseRuntimeError):
    """The logs of an action were asked for before the action started."""

    default_kind = "system"


class NonRecoverableError(RuntimeUserError):
    """Raise this from a task to fail it without any further retry.

    Example:
        >>> raise NonRecoverableError("the input file is corrupt")  # doctest: +SKIP
    """


class TaskTimeoutError(RuntimeUserError):
    """A task ran longer than its ``timeout``."""


class MaxRuntimeExceededError(TaskTimeoutError):
    """An attempt ran past ``Timeout.max_runtime``."""


class DeadlineExceededError(TaskTimeoutError):
    """An action (all attempts together) ran past ``Timeout.deadline``."""


class MaxQueuedTimeExceededError(TaskTimeoutError):
    """An action waited in the queue past ``Timeout.max_queued_time``."""


class RetriesExhaustedError(RuntimeUserError):
    """Every allowed attempt of an action failed."""


class ActionAbortedError(RuntimeUserError):
    """The action was aborted (by a user, or because its parent ended)."""


class CustomError(RuntimeUserError):
    """A user-defined error with a code of the user's choosing.

    Example:
        >>> CustomError("quota exceeded", code="QuotaExceeded").code
        'QuotaExceeded'
    """

    @classmethod
    def from_exception(cls, error: BaseException) -> CustomError:
        """Wrap any exception, keeping its class name as the code."""
        custom = cls(str(error), code=type(error).__name__)
        custom.__cause__ = error
        return custom


class OOMError(RuntimeUserError):
    """The task ran out of memory."""


class TaskInterruptedError(RuntimeUserError):
    """An interruptible task was pre-empted."""


class RuntimeDataValidationError(RuntimeUserError):
    """A value does not match the type its task declares.

    Attributes:
        var: the name of the input or output.
        task_name: the task that declared it.
    """

    def __init__(self, message: str = "", *, var: str = "", task_name: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code or "RuntimeDataValidationError")
        self.var = var
        self.task_name = task_name


class NotInTaskContextError(RuntimeUserError):
    """An API that only works inside a running task was called outside one."""


class SyncTaskCallInAsyncContextError(RuntimeUserError):
    """A sync task was called in a blocking way from async code; use ``await task.aio(...)``."""


class TraceDoesNotAllowNestedTasksError(RuntimeUserError):
    """A ``@flyte.trace`` function called a task; traces must be leaves."""


class InlineIOMaxBytesBreached(RuntimeUserError):
    """Inputs or outputs are larger than the task's ``max_inline_io_bytes``."""


class RemoteTaskNotFoundError(RuntimeUserError, NotFoundError):
    """A deployed task was not found."""


class RemoteTaskUsageError(RuntimeUserError):
    """A reference to a deployed task was used in a way it does not support."""


class ModuleLoadError(RuntimeUserError):
    """A module with tasks could not be imported."""


class CodeBundleError(RuntimeUserError):
    """The code bundle could not be built or loaded."""


class DeploymentError(RuntimeUserError):
    """An environment could not be deployed."""


class ImageBuildError(RuntimeUserError):
    """A container image could not be built."""


class ParameterMaterializationError(RuntimeUserError):
    """A parameter could not be turned into a value (for example, a file that does not exist)."""


class RestrictedTypeError(RuntimeUserError):
    """A type that Flyte cannot transport was used in a task signature."""


class ActionNotFoundError(NotFoundError):
    """No action (or run) has the given name."""


class RunAlreadyExistsError(RuntimeError):
    """A run with the requested name already exists."""
