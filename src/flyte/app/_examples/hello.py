"""The app ``flyte serve hello`` serves: a FastAPI app with one parameter.

Copy this file into your project to start one of your own:

    flyte serve --local hello.py env     # on this machine
    flyte serve hello.py env             # on the configured control plane
"""

try:
    from fastapi import FastAPI
except ImportError as missing:  # an extra: pip install 'flyte[apps]'
    raise ImportError("the hello example needs FastAPI: pip install fastapi") from missing

import flyte.app
from flyte.app.extras import FastAPIAppEnvironment

api = FastAPI(title="Hello from Flyte")


@api.get("/")
def hello() -> dict[str, str]:
    """Greets with the ``greeting`` parameter and says where the app runs."""
    return {"message": flyte.app.get_parameter("greeting"), "mode": flyte.app.ctx().mode}


env = FastAPIAppEnvironment(
    name="hello",
    app=api,
    parameters=[flyte.app.Parameter(name="greeting", value="Hello from a Flyte app!")],
    requires_auth=False,
)
