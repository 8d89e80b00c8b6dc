"""Secrets at rest and at run time: the server key, AES-GCM encryption, and the resolver the engine calls.

Values are encrypted with AES-256-GCM under a key derived from the server key (a file in the
data directory, or ``--secret-key``); the associated data binds each ciphertext to its scope and
name, so a ciphertext copied to another row does not decrypt. The database never holds a
plaintext value, and no RPC returns one: the only way out is :func:`make_secret_resolver`, which
hands a task's secrets to the executor as environment variables.
"""

from __future__ import annotations

import logging
import os
import re
import secrets as _random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flyteidl2.core import security_pb2

from flyte_server.store.db import Database
from flyte_server.store.secrets import find_secret

__all__ = [
    "KEY_FILE_NAME",
    "SecretCipher",
    "SecretResolutionError",
    "SecretResolver",
    "derive_key",
    "load_server_key",
    "make_secret_resolver",
    "secret_env_vars",
    "secret_scope",
]

KEY_FILE_NAME = "server.key"
"""The file in the data directory that holds the server key when ``--secret-key`` is not given."""

_NONCE_BYTES = 12
_NOT_ALPHANUMERIC = re.compile(r"[^A-Z0-9]")

SecretResolver = Callable[[str, str, Sequence[security_pb2.Secret]], Awaitable[dict[str, str]]]
"""``(project, domain, secrets) -> environment variables``: what the engine calls before launching a task."""

logger = logging.getLogger(__name__)


class SecretResolutionError(LookupError):
    """A task asks for a secret that does not exist in its project and domain, or cannot be exposed."""


def load_server_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The server's master key: ``configured`` when given, else a random key kept in ``data_dir``.

    The key file is created on first use, readable by its owner only. Several replicas sharing
    a database must share the key (pass the same ``--secret-key`` to each).

    Example:
        >>> load_server_key(Path("/unused"), "my passphrase") == load_server_key(Path("/other"), "my passphrase")
        True
    """
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = _random.token_bytes(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose (``"secrets"``, ``"signed-urls"``), so no key serves two uses.

    Example:
        >>> derive_key(b"k", "secrets") != derive_key(b"k", "signed-urls")
        True
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flyte-server", info=purpose.encode())
    return hkdf.derive(master)


class SecretCipher:
    """AES-256-GCM encryption of secret values, each bound to the scope it was stored under.

    Example:
        >>> cipher = SecretCipher(derive_key(b"k", "secrets"))
        >>> blob = cipher.encrypt(b"hunter2", scope="p/d/db-password")
        >>> cipher.decrypt(blob, scope="p/d/db-password")
        b'hunter2'
    """

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, *, scope: str) -> bytes:
        """``nonce || ciphertext`` of ``plaintext``, authenticated together with ``scope``."""
        nonce = _random.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, scope.encode())

    def decrypt(self, blob: bytes, *, scope: str) -> bytes:
        """The plaintext of ``blob``.

        Raises:
            SecretResolutionError: the blob was not encrypted under this key and scope.
        """
        try:
            return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], scope.encode())
        except InvalidTag as e:
            raise SecretResolutionError(
                f"secret {scope!r} cannot be decrypted with this server's key; was the data directory's "
                f"{KEY_FILE_NAME} or --secret-key changed?"
            ) from e


def secret_scope(project: str, domain: str, name: str) -> str:
    """The associated data of a secret's ciphertext."""
    return f"{project}/{domain}/{name}"


def secret_env_vars(secret: security_pb2.Secret) -> list[str]:
    """The environment variables a task's secret is exposed as: its ``env_var`` and ``_UNION_<KEY>``.

    Without an explicit ``env_var`` the name is derived as the SDK does: ``GROUP_KEY`` (or
    ``KEY``) upper-cased, every other character replaced by ``_``.

    Example:
        >>> secret_env_vars(security_pb2.Secret(key="api-key", group="openai"))
        ['OPENAI_API_KEY', '_UNION_API_KEY']
    """
    if secret.env_var:
        primary = secret.env_var
    else:
        primary = _env_name(f"{secret.group}_{secret.key}" if secret.group else secret.key)
    names = [primary]
    union = "_UNION_" + _NOT_ALPHANUMERIC.sub("_", secret.key.upper())
    if union != primary:
        names.append(union)
    return names


def _env_name(text: str) -> str:
    name = _NOT_ALPHANUMERIC.sub("_", text.upper())
    return f"_{name}" if name[:1].isdigit() else name


def make_secret_resolver(database: Database, cipher: SecretCipher) -> SecretResolver:
    """The function the engine calls to turn a task's ``security_context.secrets`` into env vars.

    A secret is looked up by its ``key`` in the most specific scope that has it: the task's
    (project, domain), then the project, then the domain, then the whole server.

    Example:
        >>> resolver = make_secret_resolver(database, cipher)  # doctest: +SKIP
        >>> await resolver("flytesnacks", "development", [security_pb2.Secret(key="token")])  # doctest: +SKIP
        {'TOKEN': '...', '_UNION_TOKEN': '...'}
    """

    async def resolve(project: str, domain: str, requested: Sequence[security_pb2.Secret]) -> dict[str, str]:
        if not requested:
            return {}
        env: dict[str, str] = {}
        async with database.session() as session:
            for secret in requested:
                if not secret.key:
                    raise SecretResolutionError("a task secret has no key; give flyte.Secret a key")
                row = await find_secret(session, project, domain, secret.key)
                if row is None:
                    raise SecretResolutionError(
                        f"secret {secret.key!r} does not exist in project {project!r}, domain {domain!r}; "
                        f"create it with: flyte create secret {secret.key} --project {project} --domain {domain}"
                    )
                value = cipher.decrypt(row.ciphertext, scope=secret_scope(row.project, row.domain, row.name))
                try:
                    text = value.decode()
                except UnicodeDecodeError as e:
                    raise SecretResolutionError(
                        f"secret {secret.key!r} holds binary data that is not UTF-8 and cannot be an "
                        "environment variable"
                    ) from e
                if "\x00" in text:
                    raise SecretResolutionError(f"secret {secret.key!r} contains a NUL byte and cannot be an env var")
                for name in secret_env_vars(secret):
                    env[name] = text
        logger.debug("resolved secrets", extra={"project": project, "domain": domain, "count": len(requested)})
        return env

    return resolve
