"""A first Flyte program: a parent task fans out to a child task with asyncio.gather.

Run it with the CLI (inputs as options, structured ones as JSON):

    flyte run --local examples/hello.py main --x 3 --names '["a","b"]' --opts '{"scale":2,"label":"L"}' --flag

or as a plain Python program:

    python examples/hello.py
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import flyte

env = flyte.TaskEnvironment(name="hello")


@dataclass
class Opts:
    """How to decorate each greeting."""

    scale: int
    label: str


@env.task(cache="auto")
async def greet(name: str, x: int, opts: Opts) -> str:
    """Greet one person, repeating the greeting's punctuation.

    Args:
        name: who to greet.
        x: how many exclamation marks (before scaling).
        opts: the scale and the label of the greeting.
    """
    return f"{opts.label}: hello {name}" + "!" * (x * opts.scale)


@env.task
async def main(x: int, names: list[str], opts: Opts, flag: bool = False) -> str:
    """Greet everyone in parallel and join the greetings.

    Args:
        x: how excited each greeting is.
        names: the people to greet.
        opts: the scale and the label of each greeting.
        flag: shout (upper-case) the result.
    """
    greetings = await asyncio.gather(*(greet(name, x, opts) for name in names))
    text = "; ".join(greetings)
    return text.upper() if flag else text


if __name__ == "__main__":
    flyte.init()
    run = flyte.run(main, x=3, names=["a", "b"], opts=Opts(scale=2, label="L"), flag=True)
    print(run.outputs())
