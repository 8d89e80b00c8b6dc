"""Conversion between the SDK's objects and ``flyteidl2`` messages, in one place.

Entry points the client (deploy, remote run) and the runtime use:

* :func:`task_to_spec` — a task → ``TaskSpec`` (``deploy=True`` for ``DeployTask``);
* :func:`run_spec_to_proto` — ``with_runcontext`` options → ``RunSpec``;
* :func:`trigger_inputs` / :func:`trigger_to_proto` — a ``flyte.Trigger`` → its run ``Inputs`` (to
  offload with ``UploadInputs``) and the ``TaskTrigger`` sent with ``DeployTask``;
* :func:`inputs_to_proto` / :func:`outputs_to_proto` and their inverses;
* :func:`error_document_from_exception` / :func:`exception_from_execution_error`.

:class:`SerializationContext` carries the version, project/domain/org, the :class:`CodeBundle`
and the :class:`ImageCache`.
"""

from __future__ import annotations

from flyte._internal.serde._context import SDK_RUNTIME_VERSION, CodeBundle, ImageCache, SerializationContext
from flyte._internal.serde._errors import (
    aborted_error,
    error_document_from_exception,
    exception_from_error_document,
    exception_from_execution_error,
    timeout_error_from_code,
)
from flyte._internal.serde._io import inputs_from_proto, inputs_to_proto, outputs_from_proto, outputs_to_proto
from flyte._internal.serde._run import run_spec_to_proto
from flyte._internal.serde._task import (
    cache_version,
    container_args,
    environment_name,
    image_uri,
    task_identifier,
    task_template_to_proto,
    task_to_spec,
    trace_interface,
)
from flyte._internal.serde._trigger import KICKOFF_CONTEXT_KEY, trigger_inputs, trigger_to_proto

__all__ = [
    "KICKOFF_CONTEXT_KEY",
    "SDK_RUNTIME_VERSION",
    "CodeBundle",
    "ImageCache",
    "SerializationContext",
    "aborted_error",
    "cache_version",
    "container_args",
    "environment_name",
    "error_document_from_exception",
    "exception_from_error_document",
    "exception_from_execution_error",
    "image_uri",
    "inputs_from_proto",
    "inputs_to_proto",
    "outputs_from_proto",
    "outputs_to_proto",
    "run_spec_to_proto",
    "task_identifier",
    "task_template_to_proto",
    "task_to_spec",
    "timeout_error_from_code",
    "trace_interface",
    "trigger_inputs",
    "trigger_to_proto",
]
