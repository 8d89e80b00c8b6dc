"""Secrets a task needs, and how they reach it (an environment variable or a mounted file).

Example:
    >>> normalize_secrets(["openai-key", Secret("token", group="github", as_env_var="GH_TOKEN")])[0].env_var
    'OPENAI_KEY'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SECRETS_MOUNT_PATH", "Secret", "SecretRequest", "normalize_secrets"]

SECRETS_MOUNT_PATH = Path("/etc/flyte/secrets")
"""The only directory secrets can be mounted under today."""

_ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class Secret:
    """A secret the task reads at run time.

    By default the secret is exposed as an environment variable named after its group and key
    (``Secret("api-key", group="openai")`` becomes ``OPENAI_API_KEY``); ``as_env_var`` picks
    another name, and ``mount`` exposes it as a file instead.

    Example:
        >>> Secret("api-key", group="openai").env_var
        'OPENAI_API_KEY'
    """

    key: str
    """The secret's name in the secret store."""
    group: str | None = None
    """An optional group (namespace) the secret lives in."""
    mount: Path | None = None
    """Mount the secret as a file under this directory (only ``/etc/flyte/secrets`` today)."""
    as_env_var: str | None = None
    """The environment variable to expose the secret as; upper-case letters, digits and ``_``.

    Filled in with the default name (see :attr:`env_var`) when neither this nor ``mount`` is given.
    """

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ValueError(f"Secret.key must be a non-empty string, got {self.key!r}")
        if self.group is not None and not isinstance(self.group, str):
            raise ValueError(f"Secret.group must be a string, got {self.group!r}")
        if self.mount is not None:
            mount = Path(self.mount)
            if mount != SECRETS_MOUNT_PATH:
                raise ValueError(f"Secret.mount must be {SECRETS_MOUNT_PATH} (the only supported path), got {mount}")
            object.__setattr__(self, "mount", mount)
        elif self.as_env_var is None:
            # Recorded on the object (not only computed) so that ``secret.as_env_var`` tells the truth.
            object.__setattr__(self, "as_env_var", self._default_env_var())
        if self.as_env_var is not None and not _ENV_VAR_NAME.match(self.as_env_var):
            raise ValueError(
                f"Secret.as_env_var must be an environment variable name matching {_ENV_VAR_NAME.pattern}, "
                f"got {self.as_env_var!r}"
            )

    @property
    def env_var(self) -> str:
        """The environment variable the secret is exposed as.

        ``as_env_var`` when set; otherwise ``GROUP_KEY`` (or ``KEY``) upper-cased, with every
        character that is not a letter or digit replaced by ``_``.

        Example:
            >>> Secret("db.password").env_var
            'DB_PASSWORD'
        """
        return self.as_env_var if self.as_env_var is not None else self._default_env_var()

    def _default_env_var(self) -> str:
        name = f"{self.group}_{self.key}" if self.group else self.key
        name = re.sub(r"[^A-Z0-9]", "_", name.upper())
        return f"_{name}" if name[0].isdigit() else name

    def stable_hash(self) -> str:
        """A hex digest of the secret's fields that is the same in every process.

        Example:
            >>> Secret("k").stable_hash() == Secret("k").stable_hash()
            True
        """
        text = "\x00".join(str(part) for part in (self.key, self.group, self.mount, self.as_env_var))
        return hashlib.sha256(text.encode()).hexdigest()


SecretRequest = str | Secret | list[str | Secret]
"""What ``secrets=`` accepts: a key, a :class:`Secret`, or a list of them."""


def normalize_secrets(request: SecretRequest | tuple[str | Secret, ...] | None) -> tuple[Secret, ...]:
    """Turn a ``secrets=`` argument into a tuple of :class:`Secret`.

    Identical secrets are kept once; two different secrets that would be exposed as the same
    environment variable are an error.

    Raises:
        TypeError: an item is neither a string nor a :class:`Secret`.
        ValueError: two secrets map to the same environment variable.

    Example:
        >>> normalize_secrets("token")
        (Secret(key='token', group=None, mount=None, as_env_var='TOKEN'),)
    """
    if request is None:
        return ()
    items = [request] if isinstance(request, (str, Secret)) else list(request)
    secrets: list[Secret] = []
    by_env_var: dict[str, Secret] = {}
    for item in items:
        if isinstance(item, str):
            item = Secret(key=item)
        elif not isinstance(item, Secret):
            raise TypeError(f"secrets must be strings or flyte.Secret objects, got {type(item).__name__}: {item!r}")
        if item in secrets:
            continue
        if item.mount is None:
            other = by_env_var.get(item.env_var)
            if other is not None:
                raise ValueError(f"secrets {other!r} and {item!r} are both exposed as ${item.env_var}")
            by_env_var[item.env_var] = item
        secrets.append(item)
    return tuple(secrets)
