"""Planner statistics and dead rows of the hot tables, kept fresh by the server on PostgreSQL.

The engine's hot statements (the per-action phase UPDATE, children and attempt lookups) are point
or prefix lookups whose best plan depends on the planner knowing roughly how big ``actions`` and
``attempts`` are. PostgreSQL's autovacuum normally refreshes that; with autovacuum off (common on
CI databases) a table that was empty when its statements were first planned keeps plans for an
empty table: measured, the phase UPDATE went from 0.06 ms to 22 ms per row at 8,600 actions and a
fan-out slowed from ~600 to ~35 actions/s. So the server does what autovacuum would for these
tables when autovacuum is off: ``ANALYZE`` once enough rows changed since the last one (which also
makes cached plans be rebuilt), ``VACUUM`` once enough rows are dead. One replica at a time (an
advisory lock); nothing on SQLite, whose planner needs no statistics for these lookups.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["HOT_TABLES", "Maintenance"]

logger = logging.getLogger(__name__)

HOT_TABLES = ("actions", "attempts", "run_owners")
_LOCK = 0x466C797465 + 2
_ANALYZE_BASE, _ANALYZE_SCALE = 500, 0.1
_VACUUM_BASE, _VACUUM_SCALE = 2000, 0.2


@dataclass
class Maintenance:
    """Runs :meth:`tick` now and then (the replica loop does, every few seconds)."""

    engine: AsyncEngine
    analyzed: int = 0
    vacuumed: int = 0
    _autovacuum: bool | None = None

    async def tick(self) -> list[str]:
        """ANALYZE / VACUUM the hot tables that need it; the statements run."""
        if self.engine.dialect.name != "postgresql":
            return []
        done: list[str] = []
        async with self.engine.connect() as connection:
            if self._autovacuum is None:
                setting = await connection.scalar(text("SELECT current_setting('autovacuum')"))
                self._autovacuum = str(setting).lower() in ("on", "true", "1")
            if self._autovacuum:
                return []
            if not await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK}):
                return []
            try:
                rows = (
                    await connection.execute(
                        text(
                            "SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze, last_analyze "
                            "FROM pg_stat_user_tables WHERE relname = ANY(:tables)"
                        ),
                        {"tables": list(HOT_TABLES)},
                    )
                ).all()
                await connection.commit()
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for name, live, dead, modified, last_analyze in rows:
                    if dead > _VACUUM_BASE + _VACUUM_SCALE * live:
                        statement = f"VACUUM (ANALYZE) {name}"
                        self.vacuumed += 1
                    elif modified > _ANALYZE_BASE + _ANALYZE_SCALE * live or (last_analyze is None and modified):
                        statement = f"ANALYZE {name}"
                        self.analyzed += 1
                    else:
                        continue
                    await autocommit.execute(text(statement))
                    done.append(statement)
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK})
                await connection.commit()
        if done:
            logger.debug("store maintenance: %s", "; ".join(done))
        return done
