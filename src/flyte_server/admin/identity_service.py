"""``IdentityService``: a server without authentication has one user, the local one."""

from __future__ import annotations

from typing import Any

from connectrpc.request import RequestContext
from flyteidl2.auth import identity_connect, identity_pb2
from flyteidl2.auth.identity_connect import IdentityServiceASGIApplication
from flyteidl2.common import identifier_pb2
from flyteidl2.common import identity_pb2 as common_identity_pb2

from flyte_server.auth.principal import current_principal

__all__ = ["LOCAL_NAME", "LOCAL_SUBJECT", "IdentityService", "identity_app", "local_identity"]

LOCAL_SUBJECT = "local"
"""The subject of the only user of a server without authentication."""
LOCAL_NAME = "Local User"
"""That user's display name."""


def local_identity() -> common_identity_pb2.EnrichedIdentity:
    """The local user as the ``deployed_by``/``created_by`` of things this server records.

    Example:
        >>> local_identity().user.id.subject
        'local'
    """
    return common_identity_pb2.EnrichedIdentity(
        user=common_identity_pb2.User(
            id=identifier_pb2.UserIdentifier(subject=LOCAL_SUBJECT),
            spec=common_identity_pb2.UserSpec(first_name="Local", last_name="User", user_handle=LOCAL_SUBJECT),
        )
    )


class IdentityService(identity_connect.IdentityService):  # type: ignore[misc]  # the generated stubs are untyped
    """``UserInfo``: the caller when auth is on, else the local user (what ``flyte whoami`` prints)."""

    async def user_info(
        self, request: identity_pb2.UserInfoRequest, ctx: RequestContext[Any, Any]
    ) -> identity_pb2.UserInfoResponse:
        caller = current_principal()
        if caller is not None:  # auth is on: the API key, task or OIDC subject that called
            return identity_pb2.UserInfoResponse(
                subject=caller.subject, name=caller.name, preferred_username=caller.name
            )
        return identity_pb2.UserInfoResponse(
            subject=LOCAL_SUBJECT,
            name=LOCAL_NAME,
            preferred_username=LOCAL_SUBJECT,
            given_name="Local",
            family_name="User",
        )


def identity_app(*, interceptors: Any = (), read_max_bytes: int | None = None) -> IdentityServiceASGIApplication:
    """The Connect application serving :class:`IdentityService`."""
    return IdentityServiceASGIApplication(IdentityService(), interceptors=interceptors, read_max_bytes=read_max_bytes)
