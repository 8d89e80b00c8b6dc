"""Inline data (``data:`` URIs) is limited to what the README says: 4 KiB of inputs or outputs.

A trace used to store a 26 MB ``output_uri`` in the database; now anything whose data is over
``INLINE_DATA_MAX`` is ``INVALID_ARGUMENT`` and nothing is stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from engine_harness import action_id, create_run, key, running_engine, task_spec, wait_until
from flyteidl2.common import phase_pb2
from flyteidl2.task import run_pb2
from flyteidl2.workflow import run_definition_pb2

from flyte._internal.runtime.storage import inline_uri
from flyte_server.engine.data import INLINE_DATA_MAX

P = phase_pb2.ActionPhase


def trace_with_output(uri: str) -> run_definition_pb2.TraceAction:
    trace = run_definition_pb2.TraceAction(name="t.trace", phase=P.ACTION_PHASE_SUCCEEDED)
    trace.outputs.output_uri = uri
    return trace


async def test_trace_outputs_and_inline_inputs_are_bounded(tmp_path: Path) -> None:
    async with running_engine(tmp_path) as engine:
        run = await create_run(engine, task_spec("t.parent", "sleep", "60"))
        await wait_until(engine, run, phase=P.ACTION_PHASE_RUNNING)
        base = engine.run_output_base("flytesnacks", "development", run, run_pb2.RunSpec())

        async def trace(name: str, output_uri: str, input_uri: str = "") -> None:
            await engine.submit.enqueue(
                action_id=action_id(run, name),
                parent_name="a0",
                input_uri=input_uri,
                run_output_base=base,
                group="",
                spec_kind="trace",
                trace=trace_with_output(output_uri),
            )

        for name, size in (("huge", 26 * 1024 * 1024), ("over", INLINE_DATA_MAX + 1)):
            with pytest.raises(ConnectError) as refused:
                await trace(name, inline_uri(b"x" * size))
            assert refused.value.code == Code.INVALID_ARGUMENT
            assert f"limited to {INLINE_DATA_MAX} bytes" in refused.value.message
            with pytest.raises(ConnectError) as missing:
                await engine.queries.action_details(key(run, name))
            assert missing.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as big_inputs:
            await trace("inputs", inline_uri(b"1"), input_uri=inline_uri(b"y" * (INLINE_DATA_MAX + 1)))
        assert big_inputs.value.code == Code.INVALID_ARGUMENT

        await trace("fits", inline_uri(b"x" * INLINE_DATA_MAX))
        stored = await engine.queries.action_details(key(run, "fits"))
        assert stored.id.name == "fits"
        await engine.abort(key(run), "done")
