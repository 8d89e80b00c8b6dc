"""Apps: long-running services deployed with ``AppService.Create`` and supervised by the server."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["AppRow"]


class AppRow(Base):
    """One app, keyed by (project, domain, name); names are also unique across the server (``/apps/<name>/``)."""

    __tablename__ = "apps"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True, unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every update of the spec."""
    app: Mapped[bytes] = mapped_column(LargeBinary)
    """Serialized ``flyteidl2.app.App`` without its status (metadata and spec)."""
    created_us: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_us: Mapped[int] = mapped_column(BigInteger, default=0)
