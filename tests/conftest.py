"""Shared fixtures: every test gets its own local cache directory and a fresh ``flyte.init``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def restored_flyte_log_levels() -> Iterator[None]:
    """A test that changes the SDK's loggers (``flyte -v``, ``log_level=``) leaves them as it found them.

    Run specs carry the submitting process's levels, so a leaked level changes what later tests send.
    """
    loggers = [logging.getLogger(name) for name in ("flyte", "flyte.user")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture(autouse=True)
def isolated_local_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the local cache at a fresh directory so tests never see each other's entries."""
    directory = tmp_path_factory.mktemp("local-cache")
    monkeypatch.setenv("FLYTE_LOCAL_CACHE_DIR", str(directory))
    import flyte

    flyte.init()
    yield directory


@pytest.fixture(scope="session")
def reference_python() -> str:
    """A Python interpreter with PyPI ``flyte==2.12.1`` installed (see ``tests/reference.py``)."""
    from reference import find_reference_python

    return find_reference_python()
