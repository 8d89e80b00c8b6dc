"""``flyte.remote.User``: who the control plane says you are (``flyte whoami``)."""

from __future__ import annotations

from dataclasses import dataclass

from flyte._internal.syncify import syncify_classmethod
from flyte.remote._common import ToDict, control_plane_error, get_clients

__all__ = ["User"]


class _Text(str):
    """A string that also answers when called: Flyte 2 has ``user.name()`` and ``user.subject()``
    as methods, ours are attributes, and both spellings work."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class User(ToDict):
    """The signed-in user.

    Example:
        >>> flyte.remote.User.get().subject  # doctest: +SKIP
        'local'
        >>> flyte.remote.User.get().name()  # Flyte 2's spelling works too  # doctest: +SKIP
    """

    subject: str
    """The stable identifier of the user."""
    name: str = ""
    """The display name."""
    email: str = ""
    """The e-mail address."""
    preferred_username: str = ""
    """The user name."""

    @syncify_classmethod
    @classmethod
    async def get(cls) -> User:
        """Ask the control plane who the current user is."""
        from connectrpc.errors import ConnectError
        from flyteidl2.auth import identity_pb2

        try:
            info = await get_clients().identity_service.user_info(identity_pb2.UserInfoRequest())
        except ConnectError as error:
            raise control_plane_error(error, "asking who the current user is") from error
        return cls(
            subject=_Text(info.subject),
            name=_Text(info.name),
            email=info.email,
            preferred_username=info.preferred_username,
        )
