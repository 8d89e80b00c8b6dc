"""Writing config files with `write_config`, and endpoint normalisation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flyte.config import auto, normalize_endpoint, write_config
from flyte.errors import InitializationError

if TYPE_CHECKING:
    from conftest import Dirs  # the fixture's type, from this folder's conftest.py


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("dns:///flyte.example.com", "dns:///flyte.example.com"),
        ("dns:///flyte.example.com:443/", "dns:///flyte.example.com:443"),
        ("https://flyte.example.com", "dns:///flyte.example.com"),
        ("http://localhost:8080/", "dns:///localhost:8080"),
        ("flyte.example.com:30080", "dns:///flyte.example.com:30080"),
        ("localhost", "dns:///localhost"),
        ("https://flyte.example.com/prefix", "dns:///flyte.example.com/prefix"),
        ("[::1]:8089", "dns:///[::1]:8089"),
        ("  h.example.com  ", "dns:///h.example.com"),
    ],
)
def test_normalize_endpoint(given: str, written: str) -> None:
    assert normalize_endpoint(given) == written


@pytest.mark.parametrize("bad", ["grpc://h", "dns://h", "unix:///sock", "dns:h", "h:port", "https://", "", "a b"])
def test_normalize_endpoint_rejects(bad: str) -> None:
    with pytest.raises(InitializationError, match="Invalid endpoint"):
        normalize_endpoint(bad)


def test_written_file_has_the_create_config_layout(dirs: Dirs) -> None:
    path = write_config(
        Path(".flyte/config.yaml"),
        endpoint="localhost:30080",
        insecure=True,
        project="flytesnacks",
        domain="development",
        org=None,
        builder=None,
        force=False,
    )
    assert path.read_text() == (
        "admin:\n"
        "  endpoint: dns:///localhost:30080\n"
        "  insecure: true\n"
        "image:\n"
        "  builder: local\n"
        "task:\n"
        "  domain: development\n"
        "  project: flytesnacks\n"
    )


def test_round_trip_through_auto(dirs: Dirs) -> None:
    write_config(
        Path(".flyte/config.yaml"),
        endpoint="https://flyte.example.com",
        insecure=False,
        project="p",
        domain="d",
        org="acme",
        builder="remote",
        force=False,
        registry="ghcr.io/acme",
        auth_type="client-secret",
        local_persistence=True,
        local_tracked=True,
    )
    cfg = auto()
    assert cfg.source == Path(".flyte/config.yaml")
    assert cfg.platform.endpoint == "dns:///flyte.example.com"
    assert cfg.platform.insecure is False
    assert cfg.platform.auth_mode == "ClientSecret"
    assert (cfg.task.org, cfg.task.project, cfg.task.domain) == ("acme", "p", "d")
    assert (cfg.image.builder, cfg.image.registry) == ("remote", "ghcr.io/acme")
    assert (cfg.local.persistence, cfg.local.tracked) == (True, True)


def test_refuses_to_overwrite_without_force(dirs: Dirs) -> None:
    path = write_config(
        Path("c.yaml"), endpoint="h1", insecure=False, project=None, domain=None, org=None, builder=None, force=False
    )
    with pytest.raises(InitializationError, match=r"c\.yaml already exists; pass force=True"):
        write_config(
            path, endpoint="h2", insecure=False, project=None, domain=None, org=None, builder=None, force=False
        )
    assert auto(path).platform.endpoint == "dns:///h1"
    write_config(path, endpoint="h2", insecure=False, project=None, domain=None, org=None, builder=None, force=True)
    assert auto(path).platform.endpoint == "dns:///h2"


def test_a_directory_is_not_a_file_name(dirs: Dirs) -> None:
    (dirs.work / "adir").mkdir()
    with pytest.raises(InitializationError, match="adir: it is a directory"):
        write_config(
            Path("adir"), endpoint="h", insecure=False, project=None, domain=None, org=None, builder=None, force=True
        )


def test_something_must_be_configured(dirs: Dirs) -> None:
    with pytest.raises(InitializationError, match="Nothing to configure"):
        write_config(
            Path("c.yaml"), endpoint=None, insecure=True, project="p", domain=None, org=None, builder=None, force=False
        )
    assert not (dirs.work / "c.yaml").exists()


def test_org_alone_is_enough(dirs: Dirs) -> None:
    path = write_config(
        Path("c.yaml"), endpoint=None, insecure=False, project=None, domain=None, org="acme", builder=None, force=False
    )
    assert path.read_text() == "image:\n  builder: local\ntask:\n  org: acme\n"


def test_invalid_endpoint_writes_nothing(dirs: Dirs) -> None:
    with pytest.raises(InitializationError, match="Invalid endpoint 'grpc://h'"):
        write_config(
            Path("c.yaml"),
            endpoint="grpc://h",
            insecure=False,
            project=None,
            domain=None,
            org=None,
            builder=None,
            force=False,
        )
    assert not (dirs.work / "c.yaml").exists()


@pytest.mark.parametrize(
    ("endpoint", "org"),
    [
        ("https://acme.hosted.example.com", "acme"),
        ("dns:///tenant.eu.example.com:443", "tenant"),
        ("flyte.example.org:8080", "flyte"),
        ("example.com", None),
        ("localhost:30080", None),
        ("127.0.0.1:30080", None),
    ],
)
def test_org_is_taken_from_a_hosted_endpoint(dirs: Dirs, endpoint: str, org: str | None) -> None:
    path = write_config(
        Path("c.yaml"),
        endpoint=endpoint,
        insecure=False,
        project=None,
        domain=None,
        org=None,
        builder=None,
        force=False,
    )
    assert auto(path).task.org == org


def test_an_explicit_org_beats_the_endpoint(dirs: Dirs) -> None:
    path = write_config(
        Path("c.yaml"),
        endpoint="acme.hosted.example.com",
        insecure=False,
        project=None,
        domain=None,
        org="mine",
        builder=None,
        force=False,
    )
    assert auto(path).task.org == "mine"
