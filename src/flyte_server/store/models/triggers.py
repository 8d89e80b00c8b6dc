"""Triggers: a schedule that runs a deployed task, plus what the scheduler remembers about it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["TriggerRow"]


class TriggerRow(Base):
    """One trigger of a task, keyed by (project, domain, task name, trigger name); org is ignored."""

    __tablename__ = "triggers"
    __table_args__ = (
        UniqueConstraint("project", "domain", "task_name", "name"),
        Index("ix_triggers_scope", "project", "domain", "task_name"),
        Index("ix_triggers_active", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(63))
    domain: Mapped[str] = mapped_column(String(63))
    task_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every deploy, activation or deactivation."""
    task_version: Mapped[str] = mapped_column(String(255), default="")
    """The task version the trigger runs; empty means the latest deployed version."""
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    """Serialized ``flyteidl2.trigger.TriggerSpec`` (inputs, run spec, description)."""
    automation_spec: Mapped[bytes] = mapped_column(LargeBinary)
    """Serialized ``flyteidl2.task.TriggerAutomationSpec`` (the schedule)."""
    automation_type: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    """When the trigger was last activated (or its schedule changed): fixed rates count from here."""
    triggered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, default=None)
    """The scheduled time of the last run the scheduler fired."""
