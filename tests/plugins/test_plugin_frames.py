"""Polars frames and pandera-validated frames between tasks, in our local mode and PyPI flyte's."""

from __future__ import annotations

import sys

from plugin_programs import run_program

EXPECTED = {"good": [10, 5, 3], "handle": ["polars", "x"], "bad": True}


def test_polars_and_pandera_frames_between_tasks_on_our_sdk() -> None:
    report, _ = run_program("frames.py")
    assert report == EXPECTED


def test_the_same_program_on_pypi_flyte(refplugins_python: str) -> None:
    report, _ = run_program("frames.py", python=refplugins_python)
    assert report == EXPECTED
    assert sys.executable != refplugins_python
