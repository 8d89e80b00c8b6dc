"""One ``flyte start server --auth`` and one headless Chromium (Selenium) for the console's browser tests.

The server runs with authentication, so the browser logs in through the console's form with the
admin API key the server wrote; a driver process (our SDK, with the same key) deploys
``tests.console.helpers.WORKFLOW``. Screenshots go to ``$FLYTE_TEST_ARTIFACTS/console`` (or the
session's tmp folder), printed at the start of the session.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.console.helpers import (
    CHROMEDRIVER,
    CHROMIUM,
    DOMAIN,
    DRIVER,
    PROJECT,
    WORKFLOW,
    Browser,
    ConsoleSession,
    artifacts_dir,
    wait_until_ready,
)


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSession]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"the console's browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium-driver)")
    root = tmp_path_factory.mktemp("console-e2e")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_") and key != "FLYTE_API_KEY"}
    env["HOME"] = str(root / "home")
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flyte",
                "start",
                "server",
                "--auth",
                "--port",
                "0",
                "--workers",
                "8",
                "--data-dir",
                str(root / "data"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        url = wait_until_ready(server, log_path)
        api_key = (root / "data" / "admin-api-key").read_text().strip()
        project_dir = root / "project"
        project_dir.mkdir()
        (project_dir / "console_e2e.py").write_text(WORKFLOW)
        (project_dir / "driver.py").write_text(DRIVER)
        driven = subprocess.run(
            [sys.executable, "driver.py", PROJECT, DOMAIN],
            cwd=project_dir,
            env={**env, "FLYTE_API_KEY": api_key},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert driven.returncode == 0, driven.stderr[-3000:] + log_path.read_text()[-3000:]
        runs = json.loads(driven.stdout.strip().splitlines()[-1])
        yield ConsoleSession(
            url=url,
            api_key=api_key,
            failed_run=runs["failed"],
            log_path=log_path,
            artifacts=artifacts_dir(tmp_path_factory),
            data_dir=root / "data",
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def browser(console: ConsoleSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if shutil.which(CHROMEDRIVER) is None:
        pytest.skip(f"no {CHROMEDRIVER}")
    opened = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        opened.open(f"{console.url}/v2#/runs")
        opened.wait_css("#login")
        opened.type("#api-key", console.api_key)
        opened.click("#login button[type=submit]")
        opened.wait(lambda: opened.find_all("tr.run"), "the runs list after logging in")
        yield opened
    finally:
        opened.close()
