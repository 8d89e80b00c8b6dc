"""Tasks and sandboxed orchestrators of the sandbox tests (imported by the tests and, remotely, by workers)."""

import flyte
import flyte.sandbox

env = flyte.TaskEnvironment(name="sandbox_tests")


@env.task
async def add(x: int, y: int) -> int:
    return x + y


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def refuse(x: int) -> int:
    raise ValueError(f"refused {x}")


doubled_sum = flyte.sandbox.orchestrator_from_str(
    "add(x, y) * 2", inputs={"x": int, "y": int}, output=int, tasks=[add], name="doubled_sum"
)

# What an LLM might write: helper functions, loops, a dict result, an error it handles.
generated = env.sandbox.orchestrator(
    """
def squares_up_to(n):
    return [square(i) for i in range(n)]

values = squares_up_to(n)
try:
    refuse(n)
    refused = False
except ValueError:
    refused = True
{"total": add(sum(values), 0), "count": len(values), "refused": refused}
""",
    inputs={"n": int},
    output=dict,
    tasks=[add, square, refuse],
    name="generated",
)


@env.sandbox.orchestrator
def fan(n: int) -> int:
    total = 0
    for i in range(n):
        total = add(total, square(i))
    return total


# Code that never ends: stopped by the sandbox's time limit.
runaway = flyte.sandbox.orchestrator_from_str(
    "while True:\n    pass", inputs={}, output=int, name="runaway", timeout_ms=500
)
