"""Parking's inputs that come from outside the server: a task's ``parked.json`` and ``--park-after``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flyte._internal import parking
from flyte_server.engine.launch import park_after_seconds
from flyte_server.engine.outcome import Parking


def test_the_runtime_s_document_is_what_the_server_reads() -> None:
    document = parking.parked_document(parking.Parked(conditions=("c1",), wake_at=12.5))
    assert Parking.parse(document) == Parking(conditions=("c1",), wake_us=12_500_000)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"[]", b'"x"', b"{}", b'{"conditions": 5}', b'{"wake_at": "soon"}', b'{"wake_at": -1}'],
)
def test_a_task_s_malformed_parked_file_is_not_a_parking(data: bytes) -> None:
    """Anything else is no parking: the attempt is judged as if the file were not there (a system failure)."""
    assert Parking.parse(data) is None


@pytest.mark.parametrize(
    ("value", "expected"), [("", 2.0), ("0.5", 0.5), ("off", None), ("never", None), ("-1", None), ("soon", 2.0)]
)
def test_the_server_s_grace_period(monkeypatch: pytest.MonkeyPatch, value: str, expected: float | None) -> None:
    monkeypatch.setenv("FLYTE_SERVER_PARK_AFTER", value)
    assert park_after_seconds() == expected


def test_a_bad_park_after_flag_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flyte", "start", "server", "--data-dir", str(tmp_path / "d"), "--park-after", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--park-after" in result.stderr and "'soon' is neither a number of seconds nor 'off'" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing was started"
