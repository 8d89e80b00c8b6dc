"""Who is calling, and what each role may do.

A :class:`Principal` is what the auth middleware makes of a verified bearer token. The RPCs of
every mounted service are sorted into three kinds of access (:func:`access_of`): ``read``
(``Get``/``List``/``Watch``... of anything but secrets), ``write`` (runs, deployments, aborts,
uploads, the actions of running tasks) and ``admin`` (secrets, projects, API keys). Roles grant:

* ``viewer``: read;
* ``user``: read and write (in its projects, when the key names some);
* ``admin``: everything;
* ``task``: read and write inside the project and domain of the run it belongs to (the
  per-run credential the server gives every attempt it launches).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ROLES",
    "Access",
    "Principal",
    "Role",
    "access_of",
    "current_principal",
    "permits",
]

Role = Literal["admin", "user", "viewer", "task"]
Access = Literal["public", "read", "write", "admin"]

ROLES: tuple[str, ...] = ("admin", "user", "viewer")
"""The roles an API key can have (``task`` is only given by the server to its own attempts)."""

_READ_PREFIXES = ("Get", "List", "Watch", "Search", "Describe", "UserInfo", "Tail")
_ADMIN_SERVICES = ("flyteidl2.secret.SecretService", "flyte.auth.ApiKeyService")
_ADMIN_METHODS = {
    ("flyteidl2.project.ProjectService", "CreateProject"),
    ("flyteidl2.project.ProjectService", "UpdateProject"),
}
_PUBLIC_SERVICES = ("flyteidl2.auth.AuthMetadataService",)

_GRANTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "user": frozenset({"read", "write"}),
    "task": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    """Who it is: ``apikey:<name>``, ``task:<project>/<domain>/<run>``, or an OIDC ``sub``."""
    role: Role
    """What it may do (see the module docstring)."""
    projects: frozenset[str] | None = None
    """The projects it may touch; ``None``: any."""
    domain: str | None = None
    """The only domain it may touch (task credentials); ``None``: any."""
    key_id: str | None = None
    """The API key (client id) its token was issued for, checked for revocation."""
    expires_at: float = 0.0
    """When its token expires (seconds since the epoch)."""

    @property
    def name(self) -> str:
        """A display name: the part of the subject after its kind."""
        return self.subject.split(":", 1)[-1]


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("flyte_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the request being served; ``None`` when auth is off.

    Example:
        >>> current_principal() is None
        True
    """
    return _current.get()


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    """Make ``principal`` the caller of the code that runs from here in this context."""
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    """Undo :func:`set_principal`."""
    _current.reset(token)


def access_of(service: str, method: str) -> Access:
    """The access an RPC needs.

    Example:
        >>> access_of("flyteidl2.workflow.RunService", "CreateRun")
        'write'
        >>> access_of("flyteidl2.secret.SecretService", "ListSecrets")
        'admin'
    """
    if service in _PUBLIC_SERVICES:
        return "public"
    if service in _ADMIN_SERVICES or (service, method) in _ADMIN_METHODS:
        return "admin"
    if method.startswith(_READ_PREFIXES):
        return "read"
    return "write"


def permits(principal: Principal, access: Access) -> bool:
    """Whether ``principal``'s role grants ``access``.

    Example:
        >>> permits(Principal(subject="apikey:ci", role="viewer"), "write")
        False
    """
    return access == "public" or access in _GRANTS.get(principal.role, frozenset())
