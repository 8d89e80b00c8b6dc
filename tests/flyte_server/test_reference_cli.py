"""The PyPI ``flyte`` CLI (the reference client, a black box) against this server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flyteidl2.common import identifier_pb2
from flyteidl2.core import security_pb2
from flyteidl2.task import common_pb2
from flyteidl2.trigger import trigger_definition_pb2, trigger_service_pb2

from flyte_server.secrets import SecretCipher, derive_key, load_server_key, make_secret_resolver
from flyte_server.store.db import Database

if TYPE_CHECKING:
    from conftest import RunningServer


def _reference_flyte() -> Path:
    """The reference ``flyte`` CLI, next to the interpreter of ``tests/reference.py``."""
    from reference import find_reference_python

    return Path(find_reference_python()).with_name("flyte")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def reference(admin_server: RunningServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the reference ``flyte`` against ``admin_server`` with a fresh home; returns (exit code, output)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLYTE", "UCTL", "_U_"))}
    env.update(HOME=str(home), NO_COLOR="1", TERM="dumb", COLUMNS="200")

    def run(*args: str) -> tuple[int, str]:
        completed = subprocess.run(
            [str(_reference_flyte()), "--endpoint", admin_server.info.endpoint, "--insecure", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        # PyPI flyte's HTTP client (pyqwest) sometimes aborts the process while it exits, after the
        # command finished: count that SIGABRT as the command's success.
        code = 0 if completed.returncode == -signal.SIGABRT else completed.returncode
        return code, _ANSI.sub("", completed.stdout + completed.stderr)

    return run


def test_whoami_and_projects(reference) -> None:  # type: ignore[no-untyped-def]
    code, output = reference("-of", "json-raw", "whoami")
    assert code == 0 and '"name": "Local User"' in output
    code, output = reference("-of", "json-raw", "get", "project")
    assert code == 0 and '"id": "flytesnacks"' in output and '"production"' in output


async def test_secret_lifecycle_keeps_the_value_secret(
    reference,
    admin_server: RunningServer,
    server_database: Database,  # type: ignore[no-untyped-def]
) -> None:
    value = "ref-cli-secret-value-42"
    code, output = reference("create", "secret", "ref-token", "--value", value, "-p", "flytesnacks")
    assert code == 0, output
    code, output = reference("-of", "json-raw", "get", "secret", "-p", "flytesnacks")
    assert code == 0 and "ref-token" in output and "FULLY_PRESENT" in output
    assert value not in output
    code, output = reference("get", "secret", "ref-token", "-p", "flytesnacks")
    assert code == 0 and "ref-token" in output and value not in output

    cipher = SecretCipher(derive_key(load_server_key(admin_server.config.data_dir), "secrets"))
    resolve = make_secret_resolver(server_database, cipher)
    env = await resolve("flytesnacks", "development", [security_pb2.Secret(key="ref-token")])
    assert env["REF_TOKEN"] == value

    code, output = reference("delete", "secret", "ref-token", "-p", "flytesnacks")
    assert code == 0, output
    code, output = reference("get", "secret", "ref-token", "-p", "flytesnacks")
    assert code != 0 and "NOT FOUND" in output.upper()


async def test_trigger_listing_toggling_and_deletion(reference, clients) -> None:  # type: ignore[no-untyped-def]
    name = identifier_pb2.TriggerName(
        project="flytesnacks", domain="development", name="ref-nightly", task_name="wf.ref"
    )
    schedule = common_pb2.Schedule(cron=common_pb2.Cron(expression="0 2 * * *", timezone="UTC"))
    await clients.triggers.deploy_trigger(
        trigger_service_pb2.DeployTriggerRequest(
            name=name,
            spec=trigger_definition_pb2.TriggerSpec(active=True, task_version="v1"),
            automation_spec=common_pb2.TriggerAutomationSpec(type=common_pb2.TYPE_SCHEDULE, schedule=schedule),
        )
    )
    scope = ("-p", "flytesnacks", "-d", "development")
    code, output = reference("get", "trigger", *scope)
    assert code == 0 and "ref-nightly" in output, output
    code, output = reference("get", "trigger", "wf.ref", "ref-nightly", *scope)
    assert code == 0 and "0 2 * * *" in output, output

    code, output = reference("update", "trigger", "ref-nightly", "wf.ref", "--deactivate", *scope)
    assert code == 0, output
    details = await clients.triggers.get_trigger_details(trigger_service_pb2.GetTriggerDetailsRequest(name=name))
    assert not details.trigger.spec.active

    code, output = reference("delete", "trigger", "ref-nightly", "wf.ref", *scope)
    assert code == 0, output
    code, output = reference("get", "trigger", "wf.ref", "ref-nightly", *scope)
    assert code != 0
