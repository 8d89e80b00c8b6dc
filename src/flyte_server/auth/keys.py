"""API keys: named client credentials with a role, stored as a hash of their secret, revocable.

An API key as users hold it is what PyPI flyte decodes: base64 of
``endpoint:client_id:client_secret:org`` (see :func:`encode_api_key`). The client id is the key's
name; the secret is 256 random bits shown once. Only ``sha256(secret)`` is stored: the secrets are
random, so a slow password hash would add nothing but cost to every token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.auth.principal import ROLES, Principal
from flyte_server.store.db import Base, Database

__all__ = ["ApiKey", "ApiKeyError", "ApiKeyRow", "ApiKeyStore", "encode_api_key"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class ApiKeyError(ValueError):
    """A bad key name or role, a duplicate or missing key (the message says which)."""

    def __init__(self, message: str, *, code: str = "invalid_argument") -> None:
        super().__init__(message)
        self.code = code


class ApiKeyRow(Base):
    """One API key: its name (the OAuth2 client id), role, projects and the hash of its secret."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    projects: Mapped[str] = mapped_column(String(2000), default="")
    """Comma-separated project names the key is limited to; empty: every project."""
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class ApiKey:
    """An API key without its secret."""

    name: str
    role: str
    projects: tuple[str, ...]
    created_by: str
    created_at: str

    def principal(self) -> Principal:
        return Principal(
            subject=f"apikey:{self.name}",
            role=self.role,  # type: ignore[arg-type]  # checked on creation
            projects=frozenset(self.projects) if self.projects else None,
            key_id=self.name,
        )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def encode_api_key(endpoint: str, client_id: str, client_secret: str, org: str = "") -> str:
    """The API key string clients decode into their endpoint and client credentials.

    Example:
        >>> base64.b64decode(encode_api_key("flyte.example.com", "ci", "s3cret")).decode()
        'flyte.example.com:ci:s3cret:'
    """
    return base64.b64encode(f"{endpoint}:{client_id}:{client_secret}:{org}".encode()).decode()


def _row_to_key(row: ApiKeyRow) -> ApiKey:
    created = row.created_at.isoformat() if row.created_at is not None else ""
    return ApiKey(
        name=row.name,
        role=row.role,
        projects=tuple(p for p in row.projects.split(",") if p),
        created_by=row.created_by,
        created_at=created,
    )


class ApiKeyStore:
    """Creates, lists, deletes and checks API keys in the metadata store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def ensure_table(self) -> None:
        """Create the table on a database that predates it."""
        async with self.database.engine.begin() as connection:
            await connection.run_sync(lambda sync: ApiKeyRow.__table__.create(sync, checkfirst=True))  # type: ignore[attr-defined]

    async def create(
        self, name: str, role: str, *, projects: tuple[str, ...] = (), created_by: str = ""
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (the only time the secret is known).

        Raises:
            ApiKeyError: a bad name or role, or a key of that name exists.
        """
        if not _NAME.match(name):
            raise ApiKeyError(
                f"invalid API key name {name!r}: use 1-63 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if role not in ROLES:
            raise ApiKeyError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
        for project in projects:
            if not project or "," in project:
                raise ApiKeyError(f"invalid project name {project!r}")
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            name=name, role=role, projects=",".join(projects), secret_sha256=_hash(secret), created_by=created_by
        )
        try:
            async with self.database.session() as session:
                session.add(row)
        except IntegrityError as error:
            raise ApiKeyError(f"an API key named {name!r} already exists", code="already_exists") from error
        return ApiKey(name=name, role=role, projects=projects, created_by=created_by, created_at=""), secret

    async def list(self) -> list[ApiKey]:
        async with self.database.session() as session:
            rows = (await session.execute(select(ApiKeyRow).order_by(ApiKeyRow.name))).scalars().all()
        return [_row_to_key(row) for row in rows]

    async def get(self, name: str) -> ApiKey | None:
        async with self.database.session() as session:
            row = await session.get(ApiKeyRow, name)
        return _row_to_key(row) if row is not None else None

    async def delete(self, name: str) -> None:
        """Revoke a key (its tokens stop working).

        Raises:
            ApiKeyError: no key of that name.
        """
        async with self.database.session() as session:
            result = await session.execute(delete(ApiKeyRow).where(ApiKeyRow.name == name))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ApiKeyError(f"no API key named {name!r}", code="not_found")

    async def authenticate(self, client_id: str, client_secret: str) -> ApiKey | None:
        """The key whose name and secret these are; ``None`` when either is wrong."""
        async with self.database.session() as session:
            row = await session.get(ApiKeyRow, client_id)
        if row is None:
            hmac.compare_digest(_hash(client_secret), "0" * 64)  # the same work for unknown names
            return None
        if not hmac.compare_digest(_hash(client_secret), row.secret_sha256):
            return None
        return _row_to_key(row)

    async def any_admin(self) -> bool:
        async with self.database.session() as session:
            found = await session.execute(select(ApiKeyRow.name).where(ApiKeyRow.role == "admin").limit(1))
        return found.first() is not None
