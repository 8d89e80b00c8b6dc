"""The resolver PyPI flyte names in an app's command (``--resolver ...app_env.AppEnvResolver``)."""

from __future__ import annotations

from typing import Any

__all__ = ["AppEnvResolver"]


class AppEnvResolver:
    """Finds an ``AppEnvironment`` from ``module:attribute``."""

    @property
    def import_path(self) -> str:
        return "flyte._internal.resolvers.app_env.AppEnvResolver"

    def load_app_env(self, loader_args: str) -> Any:
        from flyte.app._runtime import load_env

        return load_env(loader_args)

    def loader_args(self, app_env: Any, root_dir: Any = None) -> str:
        from flyte.app._serde import env_reference

        return env_reference(app_env, root_dir)
