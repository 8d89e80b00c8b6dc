"""End-to-end fixtures: the real server (``flyte start server``) on a loopback port, real workers.

* :class:`ServerProcess` runs ``python -m flyte start server`` as a subprocess (so a test can
  ``kill -9`` it and start it again on the same data directory and port).
* ``server`` is one such server for the whole session, with a fresh data directory and HOME, whose
  worker Python is the reference venv (PyPI ``flyte==2.12.1``: its ``a0`` runs the tasks).
* ``client`` runs the PyPI SDK as a black box (a driver script in the reference venv, a fresh
  HOME per process so its code-bundle cache never points at another server's blobs).
* ``rpc`` gives Connect clients of the services for raw calls from the test process.
* ``project_dir`` is a copy of ``remote_programs/`` (outside any git checkout, so our SDK bundles
  just those files) for tests that drive the server with our SDK in the test process.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .helpers import ReferenceClient, Rpc, ServerProcess, make_rpc


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def server(reference_python: str, e2e_root: Path) -> Iterator[ServerProcess]:
    """One real server for the session: fresh data directory, the reference venv as worker Python."""
    process = ServerProcess(data_dir=e2e_root / "server", worker_python=reference_python)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def client(reference_python: str, e2e_root: Path) -> ReferenceClient:
    """The PyPI SDK as a black-box client (see :class:`ReferenceClient`)."""
    return ReferenceClient(python=reference_python, root=e2e_root / "client")


@pytest.fixture
async def rpc(server: ServerProcess) -> AsyncIterator[Rpc]:
    """Raw Connect clients of the session server."""
    clients = make_rpc(server.base_url)
    yield clients
    await clients.close()


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("remote-programs") / "project"
    shutil.copytree(Path(__file__).parent / "remote_programs", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
