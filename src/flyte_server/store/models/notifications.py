"""The notification delivery log: one row per (run, rule, phase), claimed before it is sent."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["NotificationRow"]


class NotificationRow(Base):
    """A notification of a run that ended in ``phase`` (``rule``: its index in the run's rules)."""

    __tablename__ = "notification_deliveries"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    rule: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    """``email`` or ``webhook``."""
    target: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``delivered`` or ``failed``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_us: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_us: Mapped[int] = mapped_column(BigInteger, default=0)
