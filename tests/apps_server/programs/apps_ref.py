"""Apps and a task for the PyPI SDK (flyte==2.12.1) to deploy; the app code is hello_api.py."""

from datetime import timedelta

import flyte
import flyte.app

task_env = flyte.TaskEnvironment(name="apps_ref_tasks")


@task_env.task
async def make_greeting(who: str) -> str:
    return f"hello {who}"


hello = flyte.app.AppEnvironment(
    name="hello-ref",
    args=["uvicorn", "hello_api:api", "--port", "8080"],
    port=8080,
    include=["hello_api.py"],
    scaling=flyte.app.Scaling(replicas=(1, 1)),
    requires_auth=False,
)

lazy = flyte.app.AppEnvironment(
    name="lazy-ref",
    args=["uvicorn", "hello_api:api", "--port", "8080"],
    port=8080,
    include=["hello_api.py"],
    scaling=flyte.app.Scaling(replicas=(0, 1), scaledown_after=timedelta(seconds=3)),
    requires_auth=False,
)


def greeter(run_name: str) -> flyte.app.AppEnvironment:
    return flyte.app.AppEnvironment(
        name="greeter-ref",
        args=["uvicorn", "hello_api:api", "--port", "8080"],
        port=8080,
        include=["hello_api.py"],
        parameters=[
            flyte.app.Parameter(
                name="greeting", value=flyte.app.RunOutput(run_name=run_name, type="string"), env_var="GREETING"
            )
        ],
        scaling=flyte.app.Scaling(replicas=(1, 1)),
        requires_auth=False,
    )
