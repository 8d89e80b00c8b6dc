"""Projects and their domains."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

DEFAULT_PROJECT = "flytesnacks"
DEFAULT_DOMAINS = ("development", "staging", "production")


class ProjectRow(Base):
    """A project; every run, task, trigger and secret belongs to one (plus a domain)."""

    __tablename__ = "projects"

    identifier: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    # Serialized flyteidl2.project.Labels, empty when there are none.
    labels: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # flyteidl2.project.ProjectState value.
    state: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
