"""Tasks that wait on conditions: run by the HITL tests with our SDK and with PyPI flyte."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="hitl")


@env.task
async def approval(timeout: float = 0.0) -> str:
    """Waits for a bool ``approve``; says how it ended (the error's class name when it raised)."""
    condition = await flyte.new_condition.aio(
        "approve", prompt="Ship it?", data_type=bool, timeout=timeout or None
    )
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
