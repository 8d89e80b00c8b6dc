"""Tasks that wait on conditions: run by the HITL tests with our SDK and with PyPI flyte."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="hitl")


@env.task
async def approval(timeout: float = 0.0) -> str:
    """Waits for a bool ``approve``; says how it ended (the error's class name when it raised)."""
    condition = await flyte.new_condition.aio("approve", prompt="Ship it?", data_type=bool, timeout=timeout or None)
    try:
        approved = await condition.wait.aio()
    except (flyte.errors.ConditionTimedoutError, flyte.errors.ConditionFailedError) as error:
        return type(error).__name__
    return "approved" if approved else "denied"


@env.task
async def amount() -> int:
    """Waits for an int and doubles it."""
    condition = await flyte.new_condition.aio("amount", prompt="How many?", data_type=int)
    return 2 * await condition.wait.aio()


@env.task
async def hooked(url: str) -> str:
    """A condition with a webhook: the receiver resolves it through the callback URI."""
    condition = await flyte.new_condition.aio(
        "hook",
        prompt="Answer via the webhook",
        data_type=str,
        webhook=flyte.ConditionWebhook(url=url, payload={"callback": "{callback_uri}", "kind": "approval"}),
    )
    return "got " + await condition.wait.aio()


@env.task(retries=2)
async def train(steps: int, die_at: int) -> str:
    """A training loop that checkpoints each step; the first attempt dies at ``die_at``.

    Returns ``"<first step of this attempt>-><steps>"``, so a resumed attempt shows where it began.
    """
    import os
    import signal

    checkpoint = flyte.ctx().checkpoint
    restored = await checkpoint.load()
    start = int((restored / "step").read_text()) if restored else 0
    for step in range(start, steps):
        (checkpoint.path / "step").write_text(str(step + 1))
        await checkpoint.save(checkpoint.path)
        if step + 1 == die_at and flyte.ctx().attempt_number == 0:
            if os.environ.get("_U_RUN_BASE"):
                os.kill(os.getpid(), signal.SIGKILL)  # remotely: the worker is killed mid-way
            raise RuntimeError("killed mid-way")  # locally: the attempt fails
    return f"{start}->{steps}"


@env.task
async def part(i: int, marks: str) -> int:
    """Leaves a mark per execution; fails for every tenth child until ``<marks>/fixed`` exists."""
    import pathlib
    import uuid

    root = pathlib.Path(marks)
    (root / f"ran-{i}-{uuid.uuid4().hex[:8]}").write_text("")
    if i % 10 == 3 and not (root / "fixed").exists():
        raise ValueError(f"part {i} is broken")
    return i * i


@env.task
async def whole(n: int, marks: str) -> int:
    """Fans out ``n`` parts; fails when any part fails (after every part ran)."""
    import asyncio

    results = await asyncio.gather(*(part(i, marks) for i in range(n)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} parts failed")
    return sum(results)


@env.task
async def echo(x: int) -> int:
    return x


@env.task
async def boom() -> int:
    raise ValueError("boom on purpose")


@env.task
async def doze(seconds: float) -> float:
    """Sleeps durably; returns how long the sleep took from its recorded start (a replay sleeps only the rest)."""
    import time

    import flyte.durable

    started = await flyte.durable.time.aio()
    await flyte.durable.sleep.aio(seconds)
    return time.time() - started
