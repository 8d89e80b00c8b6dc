"""Server replicas sharing one database: who is alive, which runs each one drives, and their inbox.

A replica renews its row every few seconds; one whose row has expired is dead and any live
replica adopts its runs (``run_owners``). Work another replica records for a run (a child enqueued
or an abort requested through it) is announced to the owner through ``replica_inbox``. Named
leases (``leases``) elect one replica for jobs that must run once, such as the trigger scheduler.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["InboxRow", "LeaseRow", "ReplicaRow", "RunOwnerRow"]


class ReplicaRow(Base):
    """A server replica and the time its lease on its runs expires unless renewed."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_us: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_us: Mapped[int] = mapped_column(BigInteger)


class RunOwnerRow(Base):
    """The replica that drives a run (every action of it); rows of finished runs are removed."""

    __tablename__ = "run_owners"

    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    # A replica id; empty: nobody (adopted by the next replica that looks).
    owner: Mapped[str] = mapped_column(String(64), default="")
    since_us: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_run_owners_owner", "owner"),)


class InboxRow(Base):
    """An action that another replica changed in the store (a new child, an abort) for its owner to pick up."""

    __tablename__ = "replica_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(63))
    domain: Mapped[str] = mapped_column(String(63))
    run_name: Mapped[str] = mapped_column(String(63))
    action_name: Mapped[str] = mapped_column(String(255))
    created_us: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_replica_inbox_owner", "owner"),)


class LeaseRow(Base):
    """A named lease: one replica holds it until ``expires_us`` (renewing it before then)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_us: Mapped[int] = mapped_column(BigInteger)
