"""``ContainerTask``: a task that is a command in an image, with inputs and outputs as files.

Serialized as Flyte 2 does (template type ``raw-container``, the command as the container's
arguments, a ``DataLoadingConfig`` naming the input and output directories), so either SDK's
ContainerTask runs on any Flyte backend. On ``flyte start server --executor podman|docker`` the
attempt runs in the task's image with :mod:`flyte.extras._container_runtime` in front of the
command: it writes each input as a file under ``input_data_dir`` (``{{.inputs.NAME}}`` in the
command is replaced by the value), runs the command, and reads each output from the file of that
name under ``output_data_dir``.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flyte._cache import Cache
from flyte._image import Image
from flyte._retry import RetryStrategy
from flyte._task import AsyncFunctionTaskTemplate
from flyte.types._interface import NativeInterface

__all__ = ["ContainerTask"]

_FORMATS = {"JSON": 0, "YAML": 1, "PROTO": 2}


@dataclass(kw_only=True, eq=False, init=False)
class ContainerTask(AsyncFunctionTaskTemplate[Any, Any]):
    """Run ``command`` in ``image``; inputs are files in ``input_data_dir``, outputs files in ``output_data_dir``.

    Example:
        >>> greet = ContainerTask(
        ...     name="greet",
        ...     image="debian:bookworm",
        ...     inputs={"name": str},
        ...     outputs={"greeting": str},
        ...     command=["/bin/sh", "-c", "echo hello {{.inputs.name}} > /var/outputs/greeting"],
        ... )
        >>> greet.task_type
        'raw-container'
    """

    command: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    input_data_dir: str = "/var/inputs"
    output_data_dir: str = "/var/outputs"
    metadata_format: str = "JSON"
    local_logs: bool = True
    file_input_layout: str = "DIRECT"
    _interface: NativeInterface | None = None

    def __init__(
        self,
        name: str,
        image: str | Image,
        command: list[str],
        inputs: dict[str, type] | None = None,
        arguments: list[str] | None = None,
        outputs: dict[str, type] | None = None,
        input_data_dir: str | Path = "/var/inputs",
        output_data_dir: str | Path = "/var/outputs",
        metadata_format: Literal["JSON", "YAML", "PROTO"] = "JSON",
        local_logs: bool = True,
        file_input_layout: Literal["DIRECT", "NAMED_DIR"] = "DIRECT",
        **kwargs: Any,
    ) -> None:
        if metadata_format not in _FORMATS:
            raise ValueError(f"metadata_format must be one of {sorted(_FORMATS)}, not {metadata_format!r}")
        if file_input_layout not in ("DIRECT", "NAMED_DIR"):
            raise ValueError(f"file_input_layout must be 'DIRECT' or 'NAMED_DIR', not {file_input_layout!r}")
        cache = kwargs.pop("cache", "disable")
        retries = kwargs.pop("retries", 0)
        super().__init__(
            func=_runs_in_its_image,
            name=name,
            short_name=kwargs.pop("short_name", name),
            task_type="raw-container",
            cache=cache if isinstance(cache, Cache) else Cache(cache),
            retries=retries if isinstance(retries, RetryStrategy) else RetryStrategy(retries),
            image=image,
            debuggable=False,
            **kwargs,
        )
        # The task lives where it was made (its function is ours): code bundles and loaders look there.
        caller = sys._getframe(1).f_globals
        object.__setattr__(self, "_definition_file", caller.get("__file__"))
        object.__setattr__(self, "__module__", caller.get("__name__", self.__module__))
        self.command = list(command)
        self.arguments = list(arguments or [])
        self.input_data_dir = str(input_data_dir)
        self.output_data_dir = str(output_data_dir)
        self.metadata_format = metadata_format
        self.local_logs = local_logs
        self.file_input_layout = file_input_layout
        self._interface = NativeInterface.from_types(
            {key: (value, inspect.Parameter.empty) for key, value in (inputs or {}).items()}, dict(outputs or {})
        )

    @property
    def interface(self) -> NativeInterface:
        assert self._interface is not None
        return self._interface

    def container_args(self, serialize_context: Any) -> list[str]:
        return [*self.command, *self.arguments]

    def data_loading_config(self, sctx: Any) -> Any:
        from flyteidl2.core import tasks_pb2

        return tasks_pb2.DataLoadingConfig(
            enabled=True,
            input_path=self.input_data_dir,
            output_path=self.output_data_dir,
            format=_FORMATS[self.metadata_format],  # type: ignore[arg-type]
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return _runs_in_its_image(self.name)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await _runs_in_its_image(self.name)


async def _runs_in_its_image(name: str = "", *args: Any, **kwargs: Any) -> Any:
    """A ContainerTask has no Python code: what calling it outside a run (or in the a0 runtime) says."""
    raise NotImplementedError(
        f"ContainerTask {name} runs its image on a server: flyte start server --executor podman (or docker), "
        "then flyte.run it there"
    )
