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


# ---- Heavy-suite infrastructure (tests/infra): one instance per session, skipped with a reason ----


@pytest.fixture(scope="session")
def loopback_netns() -> Iterator[str]:
    """A network namespace with only ``lo`` up (Ray binds loopback only there); removed after the session."""
    from infra.netns import delete_netns, ensure_netns, netns_unavailable_reason

    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(reason)
    import os

    name = ensure_netns(f"flyte-test-{os.getpid()}")
    yield name
    delete_netns(name)


@pytest.fixture(scope="session")
def podman_ready() -> None:
    """podman can run containers here (skips with the reason otherwise); sets ``CONTAINERS_CONF``."""
    import os

    from infra.podman import CONTAINERS_CONF, podman_unavailable_reason

    os.environ.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    reason = podman_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def debian_base(podman_ready: None) -> str:
    """A Debian bookworm image with python3 3.11, built once per machine (debootstrap + podman import)."""
    from infra.podman import debian_base_image

    return debian_base_image()


@pytest.fixture(scope="session")
def image_registry(podman_ready: None) -> Iterator[str]:
    """A local image registry on a loopback port for the session: ``127.0.0.1:PORT`` (plain HTTP)."""
    from infra.podman import local_registry

    with local_registry() as address:
        yield address


@pytest.fixture(scope="session")
def ray_cluster(loopback_netns: str) -> Iterator[object]:
    """A two-node Ray cluster inside ``loopback_netns`` (``infra.ray_cluster.RayCluster``), stopped by pid.

    The head has 2 CPUs; the second node 1 CPU and the custom resource ``node2`` (a task asking for
    ``{"node2": 1}`` runs there). Drivers run inside the namespace with ``RAY_ADDRESS=cluster.address``.
    """
    pytest.importorskip("ray", reason="ray is not installed")
    from infra.ray_cluster import RayCluster

    cluster = RayCluster(loopback_netns)
    try:
        cluster.start_head(num_cpus=2)
        cluster.add_node(num_cpus=1, resources={"node2": 1})
        cluster.wait_for_nodes(2)
        yield cluster
    finally:
        cluster.stop()
