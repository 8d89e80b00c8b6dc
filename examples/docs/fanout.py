"""Fan out with asyncio.gather, recurse through tasks, and group calls."""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="fanout")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def fib(n: int) -> int:
    if n < 2:
        return n
    a, b = await asyncio.gather(fib(n - 1), fib(n - 2))
    return a + b


@env.task
async def main(n: int) -> tuple[list[int], int]:
    with flyte.group("squares"):
        squares = await asyncio.gather(*(square(i) for i in range(n)))
    return list(squares), await fib(n)


if __name__ == "__main__":
    flyte.init()
    run = flyte.run(main, n=8)
    print(run.outputs())
    squares, fibonacci = run.outputs()
    print(squares, fibonacci)
