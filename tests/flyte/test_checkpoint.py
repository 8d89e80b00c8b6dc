"""flyte.Checkpoint / latest_checkpoint, and resuming from the previous attempt's checkpoint."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flyte

env = flyte.TaskEnvironment(name="checkpoint-tests")


@env.task(retries=2)
async def train(steps: int) -> list[int]:
    """Saves its step after each one; the first two attempts crash part-way."""
    checkpoint = flyte.ctx().checkpoint
    assert checkpoint is not None
    restored = await checkpoint.load()
    start = int((restored / "step").read_text()) if restored else 0
    attempt = flyte.ctx().attempt_number
    for step in range(start, steps):
        (checkpoint.path / "step").write_text(str(step + 1))
        await checkpoint.save(checkpoint.path)
        if step + 1 == 2 * (attempt + 1) and attempt < 2:
            raise RuntimeError(f"crash at step {step + 1}")
    return [attempt, start]


@env.task(retries=1)
def sync_train(payload: str) -> str:
    checkpoint = flyte.ctx().checkpoint
    assert checkpoint is not None
    if flyte.ctx().attempt_number == 0:
        assert not checkpoint.prev_exists() and checkpoint.load_sync() is None
        checkpoint.save_sync(payload.encode())
        raise RuntimeError("crash")
    restored = checkpoint.load_sync()
    assert restored is not None and restored.name == "payload"
    return restored.read_text()


def test_each_retry_resumes_from_the_step_the_previous_attempt_saved(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    attempt, resumed_from = flyte.run(train, 5).outputs().o0
    assert (attempt, resumed_from) == (2, 4)


def test_bytes_saved_by_a_sync_task_come_back_as_a_payload_file(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")
    assert flyte.run(sync_train, "weights-v1").outputs().o0 == "weights-v1"


async def test_save_and_load_a_directory_and_a_file(tmp_path: Path) -> None:
    first = flyte.Checkpoint(str(tmp_path / "attempt1"))
    assert await first.load() is None and not first.prev_exists()
    (first.path / "model.bin").write_bytes(b"\x00\x01")
    (first.path / "sub").mkdir()
    (first.path / "sub" / "opt.json").write_text("{}")
    await first.save(first.path)

    second = flyte.Checkpoint(str(tmp_path / "attempt2"), str(tmp_path / "attempt1"))
    restored = await second.load()
    assert restored == second.path
    assert (restored / "model.bin").read_bytes() == b"\x00\x01"
    assert (restored / "sub" / "opt.json").read_text() == "{}"

    single = tmp_path / "weights.pt"
    single.write_text("w")
    await second.save(single)
    third = flyte.Checkpoint(str(tmp_path / "attempt3"), str(tmp_path / "attempt2"))
    assert (await third.load()).read_text() == "w"  # type: ignore[union-attr]
    with pytest.raises(FileNotFoundError):
        await third.save(tmp_path / "missing")


def test_latest_checkpoint_by_modification_time_or_key(tmp_path: Path) -> None:
    assert flyte.latest_checkpoint(tmp_path / "absent") is None
    old = tmp_path / "run1" / "last.ckpt"
    new = tmp_path / "run2" / "last.ckpt"
    for path in (old, new):
        path.parent.mkdir()
        path.write_text("")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert flyte.latest_checkpoint(tmp_path) == new
    for step in (3, 20, 7):
        (tmp_path / f"step-{step}.ckpt").write_text("")
    by_step = flyte.latest_checkpoint(tmp_path, "step-*.ckpt", key=lambda p: int(p.stem.split("-")[1]))
    assert by_step == tmp_path / "step-20.ckpt"
    assert flyte.latest_checkpoint(tmp_path, "*.none") is None
