"""What ``a0`` reads and writes: arguments and environment, error documents, errors from updates."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flyteidl2.core import execution_pb2

from flyte._internal.runtime.entrypoint import options_from_args
from flyte._internal.runtime.taskrunner import parse_run_start_time
from flyte._internal.serde import (
    error_document_from_exception,
    exception_from_error_document,
    exception_from_execution_error,
)
from flyte.errors import (
    DeadlineExceededError,
    MaxQueuedTimeExceededError,
    MaxRuntimeExceededError,
    NonRecoverableError,
    RetriesExhaustedError,
    RuntimeDataValidationError,
    RuntimeSystemError,
    RuntimeUnknownError,
    RuntimeUserError,
)

Container = execution_pb2.ContainerError
Execution = execution_pb2.ExecutionError

REQUIRED = ["--inputs", "/in/inputs.pb", "--outputs-path", "/out/1", "--version", "v9"]


def test_templated_names_fall_back_to_the_environment():
    options = options_from_args(
        [*REQUIRED, "--run-name", "{{.runName}}", "--name", "{{.actionName}}", "--prev-checkpoint", '""'],
        {
            "RUN_NAME": "r7",
            "ACTION_NAME": "c1",
            "_U_RUN_BASE": "s3://b/p/d/r7",
            "_U_ORG_NAME": "local",
            "FLYTE_INTERNAL_EXECUTION_PROJECT": "proj",
            "FLYTE_INTERNAL_EXECUTION_DOMAIN": "dev",
            "FLYTE_ATTEMPT_NUMBER": "2",
            "_U_USE_ACTIONS": "1",
            "_F_SYS_PATH": "./.:./src",
        },
    )
    assert (options.run_name, options.action_name, options.run_base_dir) == ("r7", "c1", "s3://b/p/d/r7")
    assert (options.project, options.domain, options.org, options.attempt_number) == ("proj", "dev", "local", 2)
    assert options.use_actions and options.sys_path == "./.:./src"
    assert options.prev_checkpoint is None


def test_arguments_win_over_the_environment_and_resolver_args_are_collected():
    options = options_from_args(
        [
            *REQUIRED,
            *("--run-name", "r1", "--name", "a0", "--project", "p", "--run-base-dir", "/base"),
            *("--checkpoint-path", "/out/1/_flytecheckpoints", "--raw-data-path", "/raw"),
            *("--tgz", "/b.tgz", "--dest", "code", "--resolver", "x.Resolver", "mod", "m", "instance", "t"),
        ],
        {"FLYTE_INTERNAL_EXECUTION_PROJECT": "other", "_U_RUN_BASE": "/ignored"},
    )
    assert (options.project, options.run_base_dir, options.dest) == ("p", "/base", "code")
    assert options.resolver_args == ["mod", "m", "instance", "t"]
    assert (options.checkpoint_path, options.raw_data_path) == ("/out/1/_flytecheckpoints", "/raw")


def test_missing_names_and_conflicting_bundles_are_usage_errors(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as raised:
        options_from_args(REQUIRED, {})
    assert raised.value.code == 2
    assert "RUN_NAME" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        options_from_args([*REQUIRED, "--run-name", "r", "--name", "a", "--tgz", "x", "--pkl", "y"], {})


def test_run_start_time():
    assert parse_run_start_time("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_run_start_time("{{.runStartTime}}") == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_run_start_time("garbage") == datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("error", "code", "kind", "origin"),
    [
        (ValueError("bad 3"), "ValueError", Container.RECOVERABLE, Execution.USER),
        (NonRecoverableError("never"), "NonRecoverableError", Container.NON_RECOVERABLE, Execution.USER),
        (RuntimeDataValidationError("x", "wrong type"), "RuntimeDataValidationError", Container.NON_RECOVERABLE, 1),
        (RuntimeUserError("KeyError", "child failed"), "KeyError", Container.RECOVERABLE, Execution.USER),
        (RuntimeSystemError("StorageError", "storage down"), "StorageError", Container.RECOVERABLE, 2),
    ],
)
def test_error_documents(error: Exception, code: str, kind: int, origin: int):
    document = error_document_from_exception(error)
    assert (document.error.code, document.error.message) == (code, str(error))
    assert (document.error.kind, document.error.origin) == (kind, origin)


@pytest.mark.parametrize(
    ("code", "kind", "expected"),
    [
        ("ValueError", Execution.USER, RuntimeUserError),
        ("USER|RetriesExhausted", Execution.USER, RetriesExhaustedError),
        ("Lost", Execution.SYSTEM, RuntimeSystemError),
        ("", Execution.UNKNOWN, RuntimeUnknownError),
        ("MAX_RUNTIME_EXCEEDED", Execution.USER, MaxRuntimeExceededError),
        ("DEADLINE_EXCEEDED", Execution.USER, DeadlineExceededError),
        ("QUEUED_TIMEOUT_EXCEEDED", Execution.SYSTEM, MaxQueuedTimeExceededError),
    ],
)
def test_execution_errors_become_exceptions(code: str, kind: int, expected: type):
    error = exception_from_execution_error(Execution(code=code, message="m", kind=kind), worker="c1")  # type: ignore[arg-type]
    assert type(error) is expected
    assert (str(error), error.worker) == ("m", "c1")
    if code:
        assert error.code == code


def test_error_documents_read_back():
    document = error_document_from_exception(RuntimeSystemError("Disk", "disk"))
    error = exception_from_error_document(document)
    assert type(error) is RuntimeSystemError and error.code == "Disk"


async def test_data_uris_are_read_inline_and_malformed_ones_are_missing() -> None:
    from flyte._internal.runtime import storage

    payload = bytes(range(256))
    assert await storage.read_bytes(storage.inline_uri(payload)) == payload
    for bad in ("data:application/x-protobuf;base64,%%%", "data:text/plain,hello"):
        with pytest.raises(FileNotFoundError):
            await storage.read_bytes(bad)


def test_the_inline_limit_comes_from_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte._internal.runtime import storage

    monkeypatch.delenv("_F_INLINE_INPUTS_MAX", raising=False)
    assert storage.inline_limit() == 0
    monkeypatch.setenv("_F_INLINE_INPUTS_MAX", "4096")
    assert storage.inline_limit() == 4096
    monkeypatch.setenv("_F_INLINE_INPUTS_MAX", "lots")
    assert storage.inline_limit() == 0
