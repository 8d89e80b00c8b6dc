"""flyte.map from a sync task, with a failing item returned in place."""

import flyte

env = flyte.TaskEnvironment(name="mapping")


@env.task
def double(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x * 2


@env.task
def main(items: list[int]) -> list[str]:
    results = flyte.map(double, items, concurrency=2)
    return [f"error:{type(r).__name__}" if isinstance(r, Exception) else str(r) for r in results]


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main, items=[1, 2, 3, 4]).outputs().o0)
