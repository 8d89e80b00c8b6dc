"""Tasks for tests/e2e/test_surface_remote.py: durable time, checkpoints and the task context,
run by our runtime on the real server. Each first attempt crashes after doing its work."""

from __future__ import annotations

import time

import flyte
import flyte.durable
import flyte.report

env = flyte.TaskEnvironment(name="surface_e2e")


@env.task(retries=1)
async def durable_across_retries(sleep_s: float, marker: str) -> list[float]:
    """[durable.time, seconds this attempt slept, durable.now as a timestamp, attempt]; the first
    attempt writes its readings to ``marker`` before crashing."""
    recorded = await flyte.durable.time.aio()
    now = await flyte.durable.now.aio()
    started = time.monotonic()
    await flyte.durable.sleep.aio(sleep_s)
    slept = time.monotonic() - started
    attempt = flyte.ctx().attempt_number
    if attempt == 0:
        from pathlib import Path

        Path(marker).write_text(f"{recorded!r} {now.timestamp()!r}")
        raise RuntimeError("first attempt crashes after its sleep")
    return [recorded, slept, now.timestamp(), float(attempt)]


@env.task(retries=1)
async def resumes_from_checkpoint(steps: int) -> list[int]:
    """Saves each step; the first attempt crashes half-way. Returns [attempt, resumed from]."""
    checkpoint = flyte.ctx().checkpoint
    restored = await checkpoint.load()
    start = int((restored / "step").read_text()) if restored else 0
    for step in range(start, steps):
        (checkpoint.path / "step").write_text(str(step + 1))
        await checkpoint.save(checkpoint.path)
        if flyte.ctx().attempt_number == 0 and step + 1 == steps // 2:
            raise RuntimeError("crash half-way")
    return [flyte.ctx().attempt_number, start]


@env.task(report=True)
async def context_fields() -> dict[str, str]:
    tctx = flyte.ctx()
    flyte.report.Timeline().row(label="remote row")
    await flyte.report.flush.aio()
    return {
        "in_cluster": str(flyte.is_control_plane_available()),
        "bundle": str(tctx.code_bundle.tgz if tctx.code_bundle else None),
        "bundle_here": str(
            bool(tctx.code_bundle and tctx.code_bundle.downloaded_path and tctx.code_bundle.downloaded_path.is_dir())
        ),
        "input_path": str(tctx.input_path),
        "checkpoint": str(tctx.checkpoint_paths.checkpoint_path if tctx.checkpoint_paths else None),
    }
