"""Deployed tasks: one row per (project, domain, name, version)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["TaskRow"]


class TaskRow(Base):
    """A task version as deployed: its serialized TaskSpec plus columns to filter and sort on."""

    __tablename__ = "tasks"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Serialized flyteidl2.task.TaskSpec.
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    short_name: Mapped[str] = mapped_column(String(255), default="")
    environment_name: Mapped[str] = mapped_column(String(255), default="")
    short_description: Mapped[str] = mapped_column(Text, default="")
    is_entrypoint: Mapped[bool] = mapped_column(Boolean, default=False)
    deployed_by: Mapped[str] = mapped_column(String(255), default="")
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_tasks_created", "project", "domain", "created_us"),)
