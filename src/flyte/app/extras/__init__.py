"""Ready-made app environments: FastAPI, webhooks, and the auth pass-through middleware."""

from flyte.app.extras._fastapi import (
    FastAPIAppEnvironment,
    FastAPIPassthroughAuthMiddleware,
    FlyteWebhookAppEnvironment,
)

__all__ = ["FastAPIAppEnvironment", "FastAPIPassthroughAuthMiddleware", "FlyteWebhookAppEnvironment"]
