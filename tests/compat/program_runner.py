"""Run one compatibility program with whichever ``flyte`` is importable, and describe the outcome.

Shared by ``test_programs_three_ways.py`` (our SDK, in the test process) and ``pypi_programs.py``
(PyPI ``flyte`` 2.12.1, in the reference venv), so both sides run a program the same way: it has
a task ``main``, the inputs ``INPUTS`` and optionally a ``SCENARIO``: ``"rerun"`` with
``RERUN_INPUTS`` (run, then ``flyte.rerun`` the run with those inputs), or ``"aio"`` (the same
through the ``.aio`` forms: ``run``, ``wait``, ``outputs`` and, remotely, ``Run.get`` and
``Run.listall``), or ``"deploy"`` (``flyte.deploy.aio(env)``, then run the deployed ``main``
found with ``flyte.remote.Task.get``). The outcome is what a user
sees: ``{"phase": "SUCCEEDED", "outputs": [...]}`` or ``{"phase": "FAILED", "error": <kind>}``,
plain JSON values (dataclasses and pydantic models as dicts, tuples as lists), plus a ``detail``
that only explains a failure.

Python 3.10+ and no imports beyond the standard library: the reference venv loads it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from types import ModuleType
from typing import Any

__all__ = ["comparable", "plain", "run_program"]


def plain(value: Any) -> Any:
    """``value`` as JSON data: dataclasses and pydantic models become dicts, tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def _phase(run: Any) -> str:
    return str(run.phase).rsplit(".", 1)[-1].upper()


async def _outputs_via_aio(flyte: Any, module: ModuleType, mode: str | None) -> list[Any]:
    context = flyte.with_runcontext(mode=mode) if mode else flyte.with_runcontext()
    run = await context.run.aio(module.main, **module.INPUTS)
    await run.wait.aio(quiet=True)
    if mode != "local":
        import flyte.remote

        again = await flyte.remote.Run.get.aio(run.name)
        if _phase(again) != "SUCCEEDED":
            raise RuntimeError(f"Run.get.aio({run.name!r}) says {again.phase}")
        listing = flyte.remote.Run.listall.aio(limit=100)
        if not hasattr(listing, "__aiter__"):
            if hasattr(listing, "close"):
                listing.close()  # a coroutine: close it rather than leave it never awaited
            raise TypeError(f"Run.listall.aio() gave {type(listing).__name__}, not an async iterator")
        listed = [item.name async for item in listing]
        if run.name not in listed:
            raise RuntimeError(f"Run.listall.aio() does not list {run.name!r}")
    return [plain(value) for value in await run.outputs.aio()]


async def _outputs_of_deployed(flyte: Any, module: ModuleType) -> list[Any]:
    import flyte.remote

    await flyte.deploy.aio(module.env)
    task = flyte.remote.Task.get(f"{module.env.name}.main", auto_version="latest")
    run = await flyte.run.aio(task, **module.INPUTS)
    await run.wait.aio(quiet=True)
    return [plain(value) for value in await run.outputs.aio()]


def run_program(flyte: Any, module: ModuleType, *, mode: str | None = None) -> dict[str, Any]:
    """Run ``module.main`` (``mode``: ``"local"``, ``"remote"`` or the SDK's default) and describe the outcome."""
    context = flyte.with_runcontext(mode=mode) if mode else flyte.with_runcontext()
    try:
        if getattr(module, "SCENARIO", None) == "aio":
            return {"phase": "SUCCEEDED", "outputs": asyncio.run(_outputs_via_aio(flyte, module, mode))}
        if getattr(module, "SCENARIO", None) == "deploy":
            return {"phase": "SUCCEEDED", "outputs": asyncio.run(_outputs_of_deployed(flyte, module))}
        run = context.run(module.main, **module.INPUTS)
        if getattr(module, "SCENARIO", None) == "rerun":
            run.wait(quiet=True)
            run = flyte.rerun(run.name, **module.RERUN_INPUTS)
        run.wait(quiet=True)
        run.raise_for_status()
        outputs = [plain(value) for value in run.outputs()]
        phase = _phase(run)
    except Exception as error:  # the program's failure is its outcome
        kind = getattr(error, "code", None) or type(error).__name__
        return {"phase": "FAILED", "error": str(kind), "detail": f"{type(error).__name__}: {error}"[:1500]}
    return {"phase": phase, "outputs": outputs}


def comparable(outcome: dict[str, Any]) -> str:
    """The outcome without its ``detail``, as canonical JSON (``10.0`` and ``10`` stay different)."""
    return json.dumps({key: value for key, value in outcome.items() if key != "detail"}, sort_keys=True)
