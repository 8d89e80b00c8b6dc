"""Tasks without inputs: run, deployed, called from a parent, and fired by a schedule."""

import flyte

env = flyte.TaskEnvironment(name="zero_inputs")


@env.task
async def hello() -> str:
    return "hello"


@env.task
async def quiet() -> None:
    print("nothing to return")


@env.task
async def parent() -> str:
    await quiet()
    return (await hello()) + "!"


@env.task(triggers=flyte.Trigger("every-minute", flyte.Cron("* * * * *")))
async def tick() -> str:
    return "tick"
