"""Apps (and a task) our SDK serves: locally with ``flyte serve --local`` and on ``flyte start server``."""

import os

from fastapi import FastAPI

import flyte
import flyte.app
from flyte.app.extras import FastAPIAppEnvironment

tasks = flyte.TaskEnvironment(name="apps_sdk_tasks")


@tasks.task
async def make_greeting(who: str) -> str:
    return f"hello {who}"


api = FastAPI()


@api.get("/")
def root() -> dict:
    return {
        "app": "ours",
        "pid": os.getpid(),
        "mode": flyte.app.ctx().mode,
        "marker": getattr(api.state, "marker", None),
    }


@api.get("/params")
def params() -> dict:
    return {
        "greeting": flyte.app.get_parameter("greeting"),
        "env": os.environ.get("GREETING", ""),
        "label": flyte.app.get_parameter("label"),
    }


web = FastAPIAppEnvironment(
    name="sdk-web",
    app=api,
    port=int(os.environ.get("SDK_APP_PORT", "8080")),
    parameters=[
        flyte.app.Parameter(name="greeting", value="hi", env_var="GREETING"),
        flyte.app.Parameter(name="label", value="plain"),
    ],
    scaling=flyte.app.Scaling(replicas=(1, 1)),
    requires_auth=False,
)

greeter = FastAPIAppEnvironment(
    name="sdk-greeter",
    app=api,
    port=int(os.environ.get("SDK_APP_PORT", "8080")),
    parameters=[
        flyte.app.Parameter(
            name="greeting",
            value=flyte.app.RunOutput(task_name="apps_sdk_tasks.make_greeting", type="string"),
            env_var="GREETING",
        ),
        flyte.app.Parameter(name="label", value="from a run"),
    ],
    scaling=flyte.app.Scaling(replicas=(1, 1)),
    requires_auth=False,
)

files = flyte.app.AppEnvironment(
    name="sdk-files",
    args=["python", "-m", "http.server", "8080", "--bind", "127.0.0.1"],
    port=8080,
    requires_auth=False,
)
