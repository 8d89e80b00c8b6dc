"""``FastAPIAppEnvironment``: an app serving a FastAPI application with uvicorn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from flyte.app._app_environment import AppEnvironment
from flyte.app._types import Link

__all__ = ["FastAPIAppEnvironment", "FastAPIPassthroughAuthMiddleware", "FlyteWebhookAppEnvironment"]


@dataclass(kw_only=True, eq=False)
class FastAPIAppEnvironment(AppEnvironment):
    """Serve ``app`` (a ``fastapi.FastAPI``) with uvicorn on the app's port.

    Example:
        >>> from fastapi import FastAPI
        >>> from flyte.app.extras import FastAPIAppEnvironment
        >>> api = FastAPI()
        >>> env = FastAPIAppEnvironment(name="api", app=api)
        >>> env.type
        'FastAPI'
    """

    type: str = "FastAPI"
    app: Any
    uvicorn_config: Any = None

    def __post_init__(self) -> None:
        from fastapi import FastAPI

        super().__post_init__()
        if not isinstance(self.app, FastAPI):
            raise TypeError(f"app of {self.name!r} must be a fastapi.FastAPI, got {type(self.app).__name__}")
        if not any(link.path == "/docs" for link in self.links):
            self.links = [Link(path="/docs", title="FastAPI OpenAPI Docs", is_relative=True), *self.links]


@dataclass(kw_only=True, eq=False)
class FlyteWebhookAppEnvironment(FastAPIAppEnvironment):
    """A FastAPI app whose endpoints start runs of allow-listed tasks (``POST /run/<task>``)."""

    type: str = "FlyteWebhookApp"
    app: Any = None
    title: str | None = None
    endpoint_groups: Any = None
    endpoints: Any = None
    task_allowlist: list[str] | None = None
    app_allowlist: list[str] | None = None
    trigger_allowlist: list[str] | None = None
    image: Any = field(default="auto")

    def __post_init__(self) -> None:
        from fastapi import FastAPI, HTTPException

        if self.app is None:
            api = FastAPI(title=self.title or self.name)
            allowed = set(self.task_allowlist or [])

            @api.post("/run/{task_name}")
            async def run_task(task_name: str, inputs: dict[str, Any] | None = None) -> dict[str, str]:
                import flyte
                import flyte.remote as remote

                if task_name not in allowed:
                    raise HTTPException(status_code=403, detail=f"task {task_name!r} is not allowed")
                task = remote.Task.get(task_name, auto_version="latest")
                run = await flyte.run.aio(task, **(inputs or {}))  # type: ignore[arg-type]  # a remote task runs too
                return {"run": str(run.name), "url": str(getattr(run, "url", ""))}

            self.app = api
        super().__post_init__()


Scope = MutableMapping[str, Any]


class FastAPIPassthroughAuthMiddleware:
    """ASGI middleware that keeps the caller's credentials (``authorization`` and ``cookie``
    headers, or what ``header_extractors`` pick) for the request, so the app can call the control
    plane as its caller; ``excluded_paths`` pass through untouched."""

    def __init__(self, app: Any, header_extractors: list[Any] | None = None, excluded_paths: set[str] | None = None):
        self.app = app
        self.header_extractors = header_extractors or []
        self.excluded_paths = excluded_paths or set()

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope.get("type") == "http" and scope.get("path") not in self.excluded_paths:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            picked = {k: headers[k] for k in ("authorization", "cookie") if k in headers}
            for extractor in self.header_extractors:
                picked.update(extractor(headers) or {})
            scope.setdefault("state", {})["flyte_auth_headers"] = picked
        await self.app(scope, receive, send)
