"""Apps: long-running servers (APIs, dashboards, models) deployed and served next to tasks.

Example:
    >>> import flyte.app
    >>> env = flyte.app.AppEnvironment(name="web", args="python -m http.server 8080", port=8080,
    ...                                scaling=flyte.app.Scaling(replicas=(0, 2), scaledown_after=60))
    >>> env.scaling.get_replicas()
    (0, 2)
"""

from flyte.app._app_environment import AppEnvironment, ConnectorEnvironment, DeployedAppEnvironment
from flyte.app._context import ctx, get_parameter
from flyte.app._types import (
    AppEndpoint,
    ArtifactValue,
    Domain,
    Link,
    Parameter,
    Port,
    RunOutput,
    Scaling,
    Subdomain,
    Timeouts,
)

__all__ = [
    "AppEndpoint",
    "AppEnvironment",
    "ArtifactValue",
    "ConnectorEnvironment",
    "DeployedAppEnvironment",
    "Domain",
    "Link",
    "Parameter",
    "Port",
    "RunOutput",
    "Scaling",
    "Subdomain",
    "Timeouts",
    "ctx",
    "get_parameter",
]
