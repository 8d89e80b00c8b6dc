"""Deploying one app: resolve its parameters, serialize it, create it or update it in place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._internal.serde import SerializationContext
    from flyte.app._app_environment import AppEnvironment, DeployedAppEnvironment

__all__ = ["bundle_files", "deploy_app"]


def bundle_files(env: AppEnvironment) -> list[Path]:
    """The files the app needs in the code bundle: the file declaring it and its ``include``
    (paths relative to that file's folder; a folder brings every file under it).

    Raises:
        flyte.errors.DeploymentError: an included path does not exist.
    """
    from flyte.errors import DeploymentError

    if env._declaring_file is None:
        return []
    declared = Path(env._declaring_file)
    files = [declared]
    for item in env.include:
        path = Path(item) if Path(item).is_absolute() else declared.parent / item
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts))
        elif path.is_file():
            files.append(path)
        else:
            raise DeploymentError(f"app {env.name!r} includes {item!r}, which does not exist next to {declared.name}")
    return files


def _same_spec(deployed: Any, wanted: Any) -> bool:
    """Whether the deployed spec is the wanted one, ignoring what the control plane fills in (its creator)."""
    left, right = type(deployed)(), type(wanted)()
    left.CopyFrom(deployed)
    right.CopyFrom(wanted)
    for spec in (left, right):
        spec.ClearField("creator")
    return bool(left == right)


async def deploy_app(
    env: AppEnvironment, context: SerializationContext, overrides: dict[str, Any] | None, dry_run: bool
) -> DeployedAppEnvironment:
    """Create ``env`` on the control plane, or update the deployed app when its spec changed.

    An app whose spec is unchanged is left alone (a stopped one stays stopped unless the new
    spec asks otherwise, which a deploy always does: it deploys the app active).

    Raises:
        flyte.errors.DeploymentError: a parameter could not be resolved, or the control plane refused the app.
    """
    from flyte.app._app_environment import DeployedAppEnvironment
    from flyte.app._parameters import materialize
    from flyte.app._serde import app_to_idl
    from flyte.errors import ControlPlaneError, DeploymentError, NotFoundError
    from flyte.remote._app import App

    known = {p.name for p in env.parameters}
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise DeploymentError(f"app {env.name!r} has no parameter(s) {unknown}; it has {sorted(known)}")
    parameters = await materialize(env.parameters, overrides)
    idl = app_to_idl(env, context, parameters)
    if dry_run:
        return DeployedAppEnvironment(env=env, deployed_app=App(idl))
    try:
        try:
            existing = await App.get.aio(env.name, project=context.project, domain=context.domain)
        except NotFoundError:
            return DeployedAppEnvironment(env=env, deployed_app=await App.create.aio(idl))
        if _same_spec(existing.pb2.spec, idl.spec):
            return DeployedAppEnvironment(env=env, deployed_app=existing)
        idl.metadata.revision = existing.pb2.metadata.revision
        updated = await App.update.aio(idl, reason=f"deployed version {context.version}")
    except ControlPlaneError as e:
        raise DeploymentError(f"deploying app {env.name!r}: {e}") from e
    return DeployedAppEnvironment(env=env, deployed_app=updated)
