"""The engine's hot statements keep point-lookup plans on PostgreSQL without autovacuum.

The measured failure: with autovacuum off, the per-action phase UPDATE, planned while ``actions``
was empty, scanned a whole run's rows per update once the run had thousands of children. The
server's own maintenance (``flyte_server.store.maintenance``) refreshes the statistics, after
which the cached statement is planned again as a lookup of one row.
"""

from __future__ import annotations

import asyncpg
import pytest

from flyte_server.store.db import Database
from flyte_server.store.maintenance import Maintenance

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

_UPDATE = (
    "UPDATE actions SET phase = $5, updated_us = $6 WHERE project = $1 AND domain = $2 AND run_name = $3 AND name = $4"
)
_COLUMNS = (
    "project, domain, run_name, name, parent_name, group_name, action_type, phase, attempts, user_failures, "
    "system_failures, cache_status, cache_key, task_project, task_domain, task_name, task_version, task_type, "
    "short_name, environment_name, function_name, spec_digest, trace_spec, run_spec, input_uri, run_output_base, "
    "env, output_uri, report_uri, error_info, abort_requested, abort_reason, source, trigger_name, run_start_us, "
    "created_us, updated_us, queued_us, not_before_us, ended_us"
)
_INSERT = (
    f"INSERT INTO actions ({_COLUMNS}) VALUES ('p', 'd', $1, $2, 'a0', '', 1, 1, 1, 0, 0, 0, '', '', '', '', '', '', "
    "'', '', '', '', ''::bytea, ''::bytea, '', '', '{}', '', '', ''::bytea, false, '', 0, '', 0, $3, $3, 0, 0, 0)"
)


async def _plan(connection: asyncpg.Connection) -> str:
    rows = await connection.fetch("EXPLAIN EXECUTE hot('p', 'd', 'r1', 'a777', 3, 1)")
    return "\n".join(row[0] for row in rows)


async def test_the_phase_update_stays_a_point_lookup_as_a_run_grows(pg_url: str) -> None:
    url = pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    database = Database(url)
    await database.migrate()
    connection = await asyncpg.connect(pg_url)
    try:
        await connection.execute(f"PREPARE hot(text, text, text, text, int, bigint) AS {_UPDATE}")
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        # Twenty runs reusing the same action names (the same workflow run again and again).
        for run in range(20):
            await connection.executemany(_INSERT, [(f"r{run}", f"a{i}", i) for i in range(1000)])
        await connection.execute("SELECT pg_stat_force_next_flush()")  # counters reach the shared stats at once
        await connection.execute("SELECT 1")
        # Planned while the table was empty: a scan of the run's rows through ix_actions_parent.
        assert "pk_actions" not in await _plan(connection)
        maintenance = Maintenance(database.engine)
        done = await maintenance.tick()
        assert "ANALYZE actions" in done or "VACUUM (ANALYZE) actions" in done, done
        plan = await _plan(connection)
        assert "Seq Scan" not in plan, plan
        assert "pk_actions" in plan, plan
    finally:
        await connection.close()
        await database.close()
