"""Async Connect clients for the control plane (see :class:`ClientSet`)."""

from __future__ import annotations

from flyte.remote._client._clientset import ClientConfig, ClientSet
from flyte.remote._client._endpoint import normalize_endpoint

__all__ = ["ClientConfig", "ClientSet", "normalize_endpoint"]
