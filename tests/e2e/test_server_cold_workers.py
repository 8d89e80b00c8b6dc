"""Without warm workers (``FLYTE_SERVER_WARM_WORKERS=0``) every attempt is a plain process: same results."""

from __future__ import annotations

from pathlib import Path

from .helpers import ReferenceClient, ServerProcess


def test_nested_run_without_warm_workers(reference_python: str, client: ReferenceClient, tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path / "data", worker_python=reference_python, extra_env={"FLYTE_SERVER_WARM_WORKERS": "0"}
    )
    server.start()
    try:
        result = client(server, {"op": "run", "task": "fan_out", "inputs": {"n": 3}})
        assert result["phase"] == "ActionPhase.SUCCEEDED" and result["values"] == [[0, 1, 4]]
        assert not (server.data_dir / "executor" / "warm-worker.log").exists(), "no warm worker was started"
    finally:
        server.stop()
