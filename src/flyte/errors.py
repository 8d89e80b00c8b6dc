"""Exceptions raised by Flyte, one hierarchy.

Every error that crosses a task boundary arrives as a :class:`BaseRuntimeError` subclass whose
``code`` is the name of the original exception class (``"ValueError"``) or a Flyte code, so that
callers can branch on it the same way in local and remote mode::

    Exception
    ├── BaseRuntimeError (RuntimeError)            code, kind, worker
    │   ├── RuntimeUserError                       the user's code failed
    │   │   ├── NonRecoverableError                never retried
    │   │   ├── TaskTimeoutError
    │   │   │   ├── MaxRuntimeExceededError / MaxQueuedTimeExceededError
    │   │   │   └── DeadlineExceededError
    │   │   ├── RetriesExhaustedError / ActionAbortedError / CustomError
    │   │   ├── OOMError / TaskInterruptedError / PrimaryContainerNotFoundError
    │   │   ├── ImagePullBackOffError / InvalidImageNameError / InvalidPackageError
    │   │   ├── RuntimeDataValidationError         an input or output does not match its type
    │   │   ├── NotInTaskContextError / SyncTaskCallInAsyncContextError / OnlyAsyncIOSupportedError
    │   │   ├── TraceDoesNotAllowNestedTasksError / InlineIOMaxBytesBreached
    │   │   ├── RemoteTaskNotFoundError / RemoteTaskUsageError
    │   │   ├── ModuleLoadError / CodeBundleError / DeploymentError / ImageBuildError
    │   │   ├── ParameterMaterializationError / RestrictedTypeError
    │   │   ├── Condition{AlreadyExists,NotFound,Timedout,Failed}Error
    │   │   ├── SlowDownError └── ResourceExhaustedError
    │   │   ├── AppleSiliconError └── AppleSilicon*Error (one per code)
    │   │   └── GPUFaultUserError (also a GPUFaultError)
    │   ├── RuntimeSystemError                     the platform failed (worker lost, ...)
    │   │   ├── ControlPlaneError                  the control plane refused or failed a request
    │   │   ├── UnionRpcError
    │   │   └── GPUFaultSystemError (also a GPUFaultError)
    │   ├── RuntimeUnknownError
    │   ├── GPUFaultError                          base of both GPU fault errors
    │   ├── InitializationError                    flyte.init / configuration problems
    │   └── LogsNotYetAvailableError
    ├── NotFoundError (RuntimeError)               a run, action, task, project, trigger or secret
    │   │                                          does not exist (RemoteTaskNotFoundError is one too)
    │   └── ActionNotFoundError
    └── RunAlreadyExistsError (RuntimeError)

Constructors take the same positional arguments as PyPI ``flyte`` 2.12.1 (for example
``RuntimeSystemError(code, message)``, ``CustomError(code, message)``, ``ModuleLoadError(message)``);
what this implementation adds is keyword-only.

Example:
    >>> try:
    ...     raise NonRecoverableError("input is corrupt")
    ... except RuntimeUserError as e:
    ...     (e.code, e.kind, str(e))
    ('NonRecoverableError', 'user', 'input is corrupt')
    >>> RuntimeSystemError("StorageDown", "the bucket is unreachable").kind
    'system'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import asyncio

ErrorKind = Literal["system", "unknown", "user"]

_E = TypeVar("_E", bound="BaseRuntimeError")

__all__ = [
    "APPLE_SILICON_ERRORS_BY_CODE",
    "GPU_FAULT_CODES",
    "ActionAbortedError",
    "ActionNotFoundError",
    "AppleSiliconBridgeUnreachableError",
    "AppleSiliconDaemonOOMError",
    "AppleSiliconDaemonStartFailedError",
    "AppleSiliconError",
    "AppleSiliconHostExecFailedError",
    "AppleSiliconModelNotFoundError",
    "AppleSiliconNotAvailableError",
    "BaseRuntimeError",
    "CodeBundleError",
    "ConditionAlreadyExistsError",
    "ConditionFailedError",
    "ConditionNotFoundError",
    "ConditionTimedoutError",
    "ControlPlaneError",
    "CustomError",
    "DeadlineExceededError",
    "DeploymentError",
    "ErrorKind",
    "GPUFaultError",
    "GPUFaultSystemError",
    "GPUFaultUserError",
    "ImageBuildError",
    "ImagePullBackOffError",
    "InitializationError",
    "InlineIOMaxBytesBreached",
    "InvalidImageNameError",
    "InvalidPackageError",
    "LogsNotYetAvailableError",
    "MaxQueuedTimeExceededError",
    "MaxRuntimeExceededError",
    "ModuleLoadError",
    "NonRecoverableError",
    "NotFoundError",
    "NotInTaskContextError",
    "OOMError",
    "OnlyAsyncIOSupportedError",
    "ParameterMaterializationError",
    "PrimaryContainerNotFoundError",
    "RemoteTaskNotFoundError",
    "RemoteTaskUsageError",
    "ResourceExhaustedError",
    "RestrictedTypeError",
    "RetriesExhaustedError",
    "RunAlreadyExistsError",
    "RuntimeDataValidationError",
    "RuntimeSystemError",
    "RuntimeUnknownError",
    "RuntimeUserError",
    "SlowDownError",
    "SyncTaskCallInAsyncContextError",
    "TaskInterruptedError",
    "TaskTimeoutError",
    "TraceDoesNotAllowNestedTasksError",
    "UnionRpcError",
    "silence_polling_error",
]


def silence_polling_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event-loop exception handler that drops ``BlockingIOError`` reports and passes the rest on.

    Non-blocking pollers (gRPC's, file watchers) surface spurious ``BlockingIOError``s through
    the loop's handler; install this one with ``loop.set_exception_handler`` to keep them quiet.

    Example:
        >>> import asyncio
        >>> loop = asyncio.new_event_loop()
        >>> loop.set_exception_handler(silence_polling_error)
        >>> loop.close()
    """
    if isinstance(context.get("exception"), BlockingIOError):
        return
    loop.default_exception_handler(context)


class BaseRuntimeError(RuntimeError):
    """Root of the errors that Flyte raises for a failed action or a misuse of the runtime.

    Attributes:
        code: the original exception's class name, or a Flyte error code.
        kind: who is to blame: ``"user"``, ``"system"`` or ``"unknown"``.
        worker: where it happened (an action or host name), when known.

    Example:
        >>> e = BaseRuntimeError("Quota", "user", "quota exceeded")
        >>> (e.code, e.kind, e.message)
        ('Quota', 'user', 'quota exceeded')
    """

    default_kind: ErrorKind = "unknown"

    def __init__(self, code: str, kind: ErrorKind, root_cause_message: str, worker: str | None = None) -> None:
        super().__init__(root_cause_message)
        self.code: str = code or type(self).__name__
        self.kind: ErrorKind = kind or self.default_kind
        self.worker = worker

    @classmethod
    def _from_parts(
        cls: type[_E],
        message: str,
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        worker: str | None = None,
    ) -> _E:
        """Build any subclass from its common parts, whatever its constructor's signature.

        The runtime rebuilds errors it receives (from a child, from the wire) by class; the
        public constructors differ per class, as they do in Flyte 2.
        """
        error = cls.__new__(cls)
        RuntimeError.__init__(error, message)
        error.code = code or type(error).__name__
        error.kind = kind or cls.default_kind
        error.worker = worker
        return error

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self)

    @property
    def root_cause_message(self) -> str:
        """Same as :attr:`message`; kept for programs written against Flyte 2."""
        return str(self)

    def _reraise(self, *_args: object) -> Any:
        # flyte.map(..., return_exceptions=True) hands errors back as values; arithmetic on one
        # (sum(results)) should surface the real failure rather than a TypeError about operands.
        raise self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _reraise
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _reraise

    def __reduce__(self) -> tuple[object, ...]:
        # Errors travel between processes; every field must survive, whatever the constructor.
        return (_rebuild_error, (type(self), str(self), self.__dict__))


def _rebuild_error(cls: type[BaseRuntimeError], message: str, state: dict[str, object]) -> BaseRuntimeError:
    error = cls.__new__(cls)
    RuntimeError.__init__(error, message)
    error.__dict__.update(state)
    return error


class RuntimeUserError(BaseRuntimeError):
    """The user's code raised; ``code`` names the original exception class.

    Example:
        >>> RuntimeUserError("KeyError", "'x'").kind
        'user'
    """

    default_kind = "user"

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, self.default_kind, message, worker)


class RuntimeSystemError(BaseRuntimeError):
    """The platform failed to run an action (a lost worker, a storage failure, ...)."""

    default_kind = "system"

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, self.default_kind, message, worker)


class RuntimeUnknownError(BaseRuntimeError):
    """An action failed for a reason that could not be classified."""

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, "unknown", message, worker)


class ControlPlaneError(RuntimeSystemError):
    """The control plane could not be reached, or refused or failed a request.

    ``code`` is the Connect status (``"UNAVAILABLE"``, ``"INVALID_ARGUMENT"``, ...). Not a Flyte 2
    class: its constructor takes the message first.

    Example:
        >>> ControlPlaneError("Cannot reach the Flyte control plane at http://localhost:8090", code="UNAVAILABLE").code
        'UNAVAILABLE'
    """

    def __init__(self, message: str, *, code: str | None = None, worker: str | None = None) -> None:
        super().__init__(code or "ControlPlaneError", message, worker)


class UnionRpcError(RuntimeSystemError):
    """A call to the control plane failed; ``code`` is the RPC status."""


class InitializationError(BaseRuntimeError):
    """Flyte was not initialised, or was initialised with an invalid configuration.

    Example:
        >>> InitializationError("ConfigFileNotFoundError", "user", "no config file found").code
        'ConfigFileNotFoundError'
    """

    default_kind = "user"


class LogsNotYetAvailableError(BaseRuntimeError):
    """The logs of an action were asked for before the action started."""

    default_kind = "system"

    def __init__(self, message: str, *, worker: str | None = None) -> None:
        super().__init__("LogsNotYetAvailable", "system", message, worker)


class _UserMessageError(RuntimeUserError):
    # The many Flyte 2 user errors whose constructor takes only a message (code = class name).
    def __init__(
        self, message: str, *, code: str | None = None, kind: ErrorKind | None = None, worker: str | None = None
    ) -> None:
        super().__init__(code or type(self).__name__, message, worker)
        if kind is not None:
            self.kind = kind


class NonRecoverableError(RuntimeUserError):
    """Raise this from a task to fail it without any further retry.

    Example:
        >>> raise NonRecoverableError("the input file is corrupt")  # doctest: +SKIP
    """

    def __init__(self, message: str, code: str = "NonRecoverableError", *, worker: str | None = None) -> None:
        super().__init__(code, message, worker)


class TaskTimeoutError(RuntimeUserError):
    """A task ran longer than its ``timeout``."""

    def __init__(self, message: str, code: str = "TaskTimeoutError", *, worker: str | None = None) -> None:
        super().__init__(code, message, worker)


class MaxRuntimeExceededError(TaskTimeoutError):
    """An attempt ran past ``Timeout.max_runtime``."""

    def __init__(self, message: str, *, code: str | None = None, worker: str | None = None) -> None:
        super().__init__(message, code or type(self).__name__, worker=worker)


class DeadlineExceededError(TaskTimeoutError):
    """An action (all attempts together) ran past ``Timeout.deadline``."""

    def __init__(self, message: str, *, code: str | None = None, worker: str | None = None) -> None:
        super().__init__(message, code or type(self).__name__, worker=worker)


class MaxQueuedTimeExceededError(TaskTimeoutError):
    """An action waited in the queue past ``Timeout.max_queued_time``."""

    def __init__(self, message: str, *, code: str | None = None, worker: str | None = None) -> None:
        super().__init__(message, code or type(self).__name__, worker=worker)


class RetriesExhaustedError(RuntimeUserError):
    """Every allowed attempt of an action failed."""


class ActionAbortedError(_UserMessageError):
    """The action was aborted (by a user, or because its parent ended)."""


class CustomError(RuntimeUserError):
    """A user-defined error with a code of the user's choosing.

    Example:
        >>> CustomError("QuotaExceeded", "quota exceeded").code
        'QuotaExceeded'
    """

    @classmethod
    def from_exception(cls, e: Exception) -> CustomError:
        """Wrap any exception, keeping its class name as the code."""
        custom = cls(type(e).__name__, str(e))
        custom.__cause__ = e
        return custom


class OOMError(RuntimeUserError):
    """The task ran out of memory."""


class TaskInterruptedError(RuntimeUserError):
    """An interruptible task was pre-empted."""


class PrimaryContainerNotFoundError(RuntimeUserError):
    """The task's pod had no container with the expected primary name."""


class ImagePullBackOffError(RuntimeUserError):
    """The task's image could not be pulled."""


class InvalidImageNameError(RuntimeUserError):
    """The task's image reference is not a valid image name."""


class InvalidPackageError(RuntimeUserError):
    """An image asked for a system package that its package manager does not know.

    Example:
        >>> InvalidPackageError("libfoo", "E: Unable to locate package libfoo").package_name
        'libfoo'
    """

    def __init__(self, package_name: str, original_error: str) -> None:
        super().__init__(
            "InvalidPackageError", f"System package {package_name!r} cannot be installed: {original_error}"
        )
        self.package_name = package_name
        self.original_error = original_error


class RuntimeDataValidationError(RuntimeUserError):
    """A value does not match the type its task declares.

    ``e`` is either the full description (a string) or the exception the conversion raised.

    Attributes:
        var: the name of the input or output.
        task_name: the task that declared it.

    Example:
        >>> str(RuntimeDataValidationError("x", ValueError("not an int"), "env.t"))
        "Input or output 'x' of task env.t: ValueError: not an int"
    """

    var: str = ""
    task_name: str = ""

    def __init__(self, var: str, e: Exception | str, task_name: str = "", *, code: str | None = None) -> None:
        if isinstance(e, str):
            message = e
        else:
            where = f" of task {task_name}" if task_name else ""
            message = f"Input or output {var!r}{where}: {type(e).__name__}: {e}"
        super().__init__(code or "RuntimeDataValidationError", message)
        self.var = var
        self.task_name = task_name


class NotInTaskContextError(RuntimeUserError):
    """An API that only works inside a running task was called outside one."""


class SyncTaskCallInAsyncContextError(_UserMessageError):
    """A sync task was called in a blocking way from async code; use ``await task.aio(...)``."""


class OnlyAsyncIOSupportedError(_UserMessageError):
    """Something other than asyncio (trio, curio) ran an async Flyte API."""


class TraceDoesNotAllowNestedTasksError(_UserMessageError):
    """A ``@flyte.trace`` function called a task; traces must be leaves."""


class InlineIOMaxBytesBreached(_UserMessageError):
    """Inputs or outputs are larger than the task's ``max_inline_io_bytes``."""


class NotFoundError(RuntimeError):
    """A run, action, task, project, trigger or secret does not exist on the control plane."""


class RemoteTaskNotFoundError(_UserMessageError, NotFoundError):
    """A deployed task was not found."""


class RemoteTaskUsageError(_UserMessageError):
    """A reference to a deployed task was used in a way it does not support."""


class ModuleLoadError(_UserMessageError):
    """A module with tasks could not be imported."""


class CodeBundleError(_UserMessageError):
    """The code bundle could not be built or loaded."""


class DeploymentError(_UserMessageError):
    """An environment could not be deployed."""


class ImageBuildError(_UserMessageError):
    """A container image could not be built."""


class ParameterMaterializationError(_UserMessageError):
    """A parameter could not be turned into a value (for example, a file that does not exist)."""


class RestrictedTypeError(_UserMessageError):
    """A type that Flyte cannot transport was used in a task signature."""


class ConditionAlreadyExistsError(_UserMessageError):
    """A condition with this name already exists in the run."""


class ConditionNotFoundError(_UserMessageError):
    """No condition has this name."""


class ConditionTimedoutError(_UserMessageError):
    """Nobody resolved the condition before its timeout."""


class ConditionFailedError(_UserMessageError):
    """The condition was rejected, or failed to resolve."""


class SlowDownError(_UserMessageError):
    """The control plane asked the client to slow down (rate limited)."""


class ResourceExhaustedError(SlowDownError):
    """The control plane ran out of a resource the request needs."""

    def __init__(self, message: str, *, code: str | None = None, worker: str | None = None) -> None:
        super().__init__(message, code=code or "SlowDownError", worker=worker)


class ActionNotFoundError(NotFoundError):
    """No action (or run) has the given name."""


class RunAlreadyExistsError(RuntimeError):
    """A run with the requested name already exists."""


GPU_FAULT_CODES: tuple[str, ...] = (
    "GpuXidError",
    "GpuFallenOffBus",
    "GpuEccUncorrectable",
    "GpuRowRemapPending",
    "GpuNvlinkError",
    "GpuGspError",
)
"""The error codes the platform gives a failure it attributes to a GPU or NVSwitch fault."""


class GPUFaultError(BaseRuntimeError):
    """The platform attributed the failure to a GPU or NVSwitch fault (an Xid / SXid).

    The fault fields are ``None`` when the platform did not report them. Our control plane runs
    actions on the local machine and never classifies GPU faults, so it raises this only for
    failures that a Flyte backend reported with one of :data:`GPU_FAULT_CODES`.
    """

    fault_kind: str | None = None
    fault_code: int | None = None
    fault_name: str | None = None
    severity: str | None = None
    gpu_uuid: str | None = None
    gpu_index: int | None = None
    node: str | None = None
    pci_bus_id: str | None = None
    process: str | None = None

    def __init__(
        self,
        code: str,
        kind: ErrorKind,
        message: str,
        worker: str | None = None,
        *,
        fault_kind: str | None = None,
        fault_code: int | None = None,
        fault_name: str | None = None,
        severity: str | None = None,
        gpu_uuid: str | None = None,
        gpu_index: int | None = None,
        node: str | None = None,
        pci_bus_id: str | None = None,
        process: str | None = None,
    ) -> None:
        # Called directly (not through super()): the concrete subclasses also derive from
        # RuntimeUserError / RuntimeSystemError, whose constructors take no kind.
        BaseRuntimeError.__init__(self, code, kind, message, worker)
        self.fault_kind = fault_kind
        self.fault_code = fault_code
        self.fault_name = fault_name
        self.severity = severity
        self.gpu_uuid = gpu_uuid
        self.gpu_index = gpu_index
        self.node = node
        self.pci_bus_id = pci_bus_id
        self.process = process

    @property
    def xid(self) -> int | None:
        """The NVIDIA Xid number, when the fault was a GPU Xid."""
        return self.fault_code if self.fault_kind == "xid" else None

    @property
    def sxid(self) -> int | None:
        """The NVSwitch SXid number, when the fault was an NVSwitch SXid."""
        return self.fault_code if self.fault_kind == "sxid" else None


class GPUFaultUserError(GPUFaultError, RuntimeUserError):
    """A GPU fault the workload caused (for example an Xid 31 page fault); charged to the task's retries."""

    def __init__(self, code: str, message: str, worker: str | None = None, **fault: Any) -> None:
        GPUFaultError.__init__(self, code, "user", message, worker, **fault)


class GPUFaultSystemError(GPUFaultError, RuntimeSystemError):
    """A hardware GPU fault (an uncorrectable ECC error, a GPU off the bus); retried by the platform."""

    def __init__(self, code: str, message: str, worker: str | None = None, **fault: Any) -> None:
        GPUFaultError.__init__(self, code, "system", message, worker, **fault)


class AppleSiliconError(RuntimeUserError):
    """Apple Silicon (Metal) accelerator errors, for ``Resources(gpu="AppleSilicon")``.

    Our runtime never schedules work on a Metal device, so it raises
    :class:`AppleSiliconNotAvailableError` for such requests; the other subclasses exist so that
    programs written for Flyte 2 can name them in ``except`` clauses.

    Attributes:
        code_name: the error code this class carries.
        recoverable: whether retrying can help.
    """

    code_name = "APPLE_SILICON_ERROR"
    recoverable = True

    def __init__(self, message: str, worker: str | None = None) -> None:
        super().__init__(self.code_name, message, worker)


class AppleSiliconNotAvailableError(AppleSiliconError):
    """No Apple Silicon accelerator is available where the task runs."""

    code_name = "APPLE_SILICON_NOT_AVAILABLE"
    recoverable = False


class AppleSiliconHostExecFailedError(AppleSiliconError):
    """The workload could not be started on the Mac host."""

    code_name = "APPLE_SILICON_HOST_EXEC_FAILED"
    recoverable = False


class AppleSiliconDaemonStartFailedError(AppleSiliconError):
    """The accelerator daemon on the host did not start."""

    code_name = "APPLE_SILICON_DAEMON_START_FAILED"
    recoverable = False


class AppleSiliconDaemonOOMError(AppleSiliconError):
    """The accelerator daemon ran out of memory."""

    code_name = "APPLE_SILICON_DAEMON_OOM"


class AppleSiliconModelNotFoundError(AppleSiliconError):
    """The model the workload asked for is not present on the host."""

    code_name = "APPLE_SILICON_MODEL_NOT_FOUND"
    recoverable = False


class AppleSiliconBridgeUnreachableError(AppleSiliconError):
    """The bridge to the host's accelerator could not be reached."""

    code_name = "APPLE_SILICON_BRIDGE_UNREACHABLE"


APPLE_SILICON_ERRORS_BY_CODE: dict[str, type[AppleSiliconError]] = {
    error.code_name: error
    for error in (
        AppleSiliconNotAvailableError,
        AppleSiliconHostExecFailedError,
        AppleSiliconDaemonStartFailedError,
        AppleSiliconDaemonOOMError,
        AppleSiliconModelNotFoundError,
        AppleSiliconBridgeUnreachableError,
    )
}
"""Each Apple Silicon error code mapped to its class."""
