"""Run one compatibility program with whichever ``flyte`` is importable, and describe the outcome.

Shared by ``test_programs_three_ways.py`` (our SDK, in the test process) and ``pypi_programs.py``
(PyPI ``flyte`` 2.12.1, in the reference venv), so both sides run a program the same way: it has
a task ``main``, the inputs ``INPUTS`` and optionally ``SCENARIO = "rerun"`` with
``RERUN_INPUTS`` (run, then ``flyte.rerun`` the run with those inputs). The outcome is what a user
sees: ``{"phase": "SUCCEEDED", "outputs": [...]}`` or ``{"phase": "FAILED", "error": <kind>}``,
plain JSON values (dataclasses and pydantic models as dicts, tuples as lists), plus a ``detail``
that only explains a failure.

Python 3.10+ and no imports beyond the standard library: the reference venv loads it too.
"""

from __future__ import annotations

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


def run_program(flyte: Any, module: ModuleType, *, mode: str | None = None) -> dict[str, Any]:
    """Run ``module.main`` (``mode``: ``"local"``, ``"remote"`` or the SDK's default) and describe the outcome."""
    context = flyte.with_runcontext(mode=mode) if mode else flyte.with_runcontext()
    try:
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
