"""``flyte create config``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import Result

Cli = Callable[..., Result]


def test_create_config_writes_the_default_file(flyte_cli: Cli, isolated: Path) -> None:
    result = flyte_cli("create", "config", "--endpoint", "localhost:30080", "--insecure", "-p", "proj", "-d", "dev")
    assert result.exit_code == 0, result.output
    path = isolated / ".flyte" / "config.yaml"
    assert result.stdout == f"Wrote config file {Path('.flyte') / 'config.yaml'}\n"
    assert yaml.safe_load(path.read_text()) == {
        "admin": {"endpoint": "dns:///localhost:30080", "insecure": True},
        "image": {"builder": "local"},
        "task": {"project": "proj", "domain": "dev"},
    }


def test_existing_file_needs_force(flyte_cli: Cli, isolated: Path) -> None:
    target = isolated / "c.yaml"
    assert flyte_cli("create", "config", "--endpoint", "a.example.com", "-o", str(target)).exit_code == 0
    result = flyte_cli("create", "config", "--endpoint", "b.example.com", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Config file") and "already exists" in result.stderr
    assert flyte_cli("create", "config", "--endpoint", "b.example.com", "-o", str(target), "--force").exit_code == 0
    assert yaml.safe_load(target.read_text())["admin"]["endpoint"] == "dns:///b.example.com"


def test_devbox_shortcut(flyte_cli: Cli, isolated: Path) -> None:
    target = isolated / "devbox.yaml"
    assert flyte_cli("create", "config", "--devbox", "-o", str(target), "--project", "mine").exit_code == 0
    data = yaml.safe_load(target.read_text())
    assert data["admin"] == {"endpoint": "dns:///localhost:30080", "insecure": True}
    assert data["task"] == {"project": "mine", "domain": "development"}


def test_nothing_to_configure_is_a_usage_error(flyte_cli: Cli) -> None:
    result = flyte_cli("create", "config")
    assert result.exit_code == 2
    assert "Nothing to configure" in result.stderr


def test_written_config_is_used_by_run(flyte_cli: Cli, tasks_file: Path, isolated: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    created = flyte_cli(
        "create", "config", "--endpoint", f"127.0.0.1:{port}", "--insecure", "-p", "p1", "-d", "development"
    )
    assert created.exit_code == 0
    result = flyte_cli("run", tasks_file.name, "kinds")
    assert result.exit_code == 1
    assert f"Cannot reach the Flyte control plane at http://127.0.0.1:{port}" in result.stderr
    assert flyte_cli("run", "--local", tasks_file.name, "kinds").exit_code == 0
