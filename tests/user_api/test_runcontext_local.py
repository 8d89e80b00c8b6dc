"""``flyte.with_runcontext`` options in local mode, and ``flyte.init_from_config(images=...)``.

Each option either changes what a local run does or fails at once with a one-line reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="runcontext_local")


@env.task
async def write_marker(path: str) -> str:
    Path(path).write_text("ran")
    return path


@env.task
async def start_time() -> str:
    moment = flyte.ctx().run_start_time
    return moment.isoformat() if moment else ""


@env.task
async def log_levels() -> list[int]:
    return [logging.getLogger("flyte").level, logging.getLogger("flyte.user").level]


@env.task(cache="auto")
async def counted(path: str) -> int:
    marker = Path(path)
    count = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(count))
    return count


@pytest.fixture(autouse=True)
def local_mode(tmp_path: Path) -> None:
    flyte.init(local_cache_dir=tmp_path / "cache")


def test_dry_run_checks_inputs_but_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    dry = flyte.with_runcontext(dry_run=True).run(write_marker, path=str(marker))
    assert not marker.exists()
    assert dry.done() and sorted(dry.inputs) == ["path"]
    with pytest.raises(RuntimeError, match="no outputs"):
        dry.outputs()
    with pytest.raises(flyte.errors.RuntimeDataValidationError):
        flyte.with_runcontext(dry_run=True).run(write_marker, path=3)


def test_run_start_time_is_what_tasks_see() -> None:
    moment = datetime(2024, 2, 29, 8, 30, tzinfo=timezone.utc)
    run = flyte.with_runcontext(run_start_time=moment).run(start_time)
    assert run.outputs().o0 == moment.isoformat()


def test_log_levels_apply_during_the_run_and_are_restored() -> None:
    before = [logging.getLogger("flyte").level, logging.getLogger("flyte.user").level]
    run = flyte.with_runcontext(log_level=logging.DEBUG, user_log_level=logging.ERROR).run(log_levels)
    assert run.outputs().o0 == [logging.DEBUG, logging.ERROR]
    assert [logging.getLogger("flyte").level, logging.getLogger("flyte.user").level] == before


def test_project_domain_cache_scope_keeps_entries_apart(tmp_path: Path) -> None:
    marker = str(tmp_path / "count")
    assert flyte.with_runcontext(project="p1", domain="d").run(counted, path=marker).outputs().o0 == 1
    # Global scope: another project finds the same entry.
    assert flyte.with_runcontext(project="p2", domain="d").run(counted, path=marker).outputs().o0 == 1
    scoped = flyte.with_runcontext(project="p2", domain="d", cache_lookup_scope="project-domain")
    assert scoped.run(counted, path=marker).outputs().o0 == 2
    assert scoped.run(counted, path=marker).outputs().o0 == 2  # now cached in p2/d


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"copy_style": "some"}, ValueError, "copy_style"),
        ({"log_format": "xml"}, ValueError, "log_format"),
        ({"cache_lookup_scope": "team"}, ValueError, "cache_lookup_scope"),
        ({"log_level": "loud"}, ValueError, "log_level"),
        ({"copy_bundle_to": Path("x")}, ValueError, "dry_run=True"),
        ({"notifications": object()}, TypeError, "notifications"),
        ({"notifications": [object()]}, TypeError, "notifications"),
        ({"tracked": True}, NotImplementedError, "tracked"),
        ({"max_action_concurrency": 0}, ValueError, "at least 1"),
        ({"bogus": 1}, TypeError, "bogus"),
    ],
)
def test_bad_options_fail_at_once(options: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        flyte.with_runcontext(**options)  # type: ignore[arg-type]  # deliberately wrong


def test_init_from_config_images(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("image:\n  image_refs:\n    gpu: ghcr.io/acme/gpu:1\n    cpu: ghcr.io/acme/cpu:1\n")
    flyte.init_from_config(config, images=("gpu=ghcr.io/acme/gpu:2", "python:3.12-slim"))
    from flyte._initialize import get_init_config

    assert get_init_config().images == {
        "gpu": "ghcr.io/acme/gpu:2",
        "cpu": "ghcr.io/acme/cpu:1",
        "default": "python:3.12-slim",
    }
    with pytest.raises(flyte.errors.InitializationError, match="name=uri"):
        flyte.init_from_config(config, images=("gpu=",))
