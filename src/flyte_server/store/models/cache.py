"""The task output cache: entries by cache key, and reservations for serialized cached tasks."""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flyte_server.store.db import Base

__all__ = ["CacheEntryRow", "CacheReservationRow"]


class CacheEntryRow(Base):
    """The outputs of a successful cached execution, found again by its cache key."""

    __tablename__ = "cache_entries"

    # "<scope>/<cache key>", the scope being "<project>/<domain>" or "*" (global lookups).
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    # Serialized flyteidl2.task.Outputs.
    outputs: Mapped[bytes] = mapped_column(LargeBinary)
    # The output directory the outputs were produced in.
    output_uri: Mapped[str] = mapped_column(Text, default="")
    # "<project>/<domain>/<run>/<action>" of the producer.
    source: Mapped[str] = mapped_column(Text, default="")
    created_us: Mapped[int] = mapped_column(BigInteger)


class CacheReservationRow(Base):
    """Who computes a serialized cached task now; the others wait for its entry."""

    __tablename__ = "cache_reservations"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    owner: Mapped[str] = mapped_column(Text)
    expires_us: Mapped[int] = mapped_column(BigInteger)
