"""A dict where a dataclass is declared, from the caller and between tasks."""

from dataclasses import dataclass

import flyte

env = flyte.TaskEnvironment(name="compat_dataclass")


@dataclass
class Settings:
    name: str
    retries: int = 1
    ratio: float = 0.5


@env.task
def describe(settings: Settings) -> str:
    return f"{settings.name}:{settings.retries}:{settings.ratio}"


@env.task
def main(settings: Settings) -> Settings:
    label = describe(settings={"name": settings.name.upper(), "retries": 3})
    return Settings(name=label, retries=settings.retries + 1, ratio=settings.ratio)


INPUTS = {"settings": {"name": "demo", "retries": 2}}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [{"name": "DEMO:3:0.5", "retries": 3, "ratio": 0.5}]}
