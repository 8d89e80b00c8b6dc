"""Secrets, encrypted at rest: only ciphertext (AES-GCM, key outside the database) is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["SecretRow"]


class SecretRow(Base):
    """A secret, scoped to (project, domain); empty strings mean "every project" / "every domain"."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("project", "domain", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(63), default="")
    domain: Mapped[str] = mapped_column(String(63), default="")
    name: Mapped[str] = mapped_column(String(255))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    """Nonce + AES-GCM ciphertext of the value, bound to the scope and name (see ``flyte_server.secrets``)."""
    is_binary: Mapped[bool] = mapped_column(default=False)
    """Whether the value was given as bytes (``binary_value``) rather than text."""
    secret_type: Mapped[int] = mapped_column(Integer, default=0)
    """``flyteidl2.secret.SecretType`` value."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
