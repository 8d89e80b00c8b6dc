"""What the console's browser tests share: the workflow they deploy, the server session, the browser.

The server runs with authentication, so the browser logs in through the console's form with the
admin API key the server wrote; a driver process (our SDK, with the same key) deploys the
environment below. Screenshots go to ``$FLYTE_TEST_ARTIFACTS`` (or the session's tmp folder),
printed at the start of the session.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = "flytesnacks"
DOMAIN = "development"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

WORKFLOW = '''
import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import flyte
import flyte.errors
import flyte.report
from flyte.io import File

env = flyte.TaskEnvironment(name="console_e2e")


@dataclass
class Stats:
    total: int
    mean: float
    label: str


@env.task(triggers=flyte.Trigger("new-year", flyte.Cron("0 0 1 1 *"), inputs={"x": 2}, auto_activate=False))
async def square(x: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return x * x


@env.task
async def fan_out(n: int, delay: float = 0.0) -> list[int]:
    """Square n numbers in parallel, each after a delay."""
    print(f"INFO fanning out to {n} squares", flush=True)
    return list(await asyncio.gather(*[square(i, delay) for i in range(n)]))


@env.task(report=True)
async def summarize(values: list[int], label: str = "demo") -> Stats:
    flyte.report.log(f"<h1 id='title'>Summary of {label}</h1><p>{len(values)} values</p>", do_flush=True)
    return Stats(total=sum(values), mean=sum(values) / len(values), label=label)


@env.task
async def ticker(count: int, pause: float) -> str:
    for i in range(count):
        level = "WARNING" if i % 10 == 9 else "INFO"
        print(f"{level} tick {i}", flush=True)
        await asyncio.sleep(pause)
    return "done"


@env.task
async def artifacts(rows: int) -> tuple[File, pd.DataFrame]:
    path = Path(tempfile.mkdtemp()) / "notes.txt"
    path.write_text("hello from the task\\n")
    frame = pd.DataFrame({"n": list(range(rows)), "square": [i * i for i in range(rows)]})
    return await File.from_local(str(path)), frame


@env.task
async def count_rows(frame: pd.DataFrame) -> int:
    return len(frame)


@env.task
async def boom(x: int) -> int:
    raise ValueError(f"bad input {x}")


@env.task
async def approval(item: str) -> str:
    """Waits for a person: approve (bool), then how many copies (int); a rejection ends it early."""
    approve = await flyte.new_condition.aio("approve", prompt=f"Ship {item}?", data_type=bool)
    try:
        await approve.wait.aio()
    except flyte.errors.ConditionFailedError:
        return f"{item}: rejected"
    copies = await flyte.new_condition.aio("copies", prompt="How many copies?", data_type=int)
    return f"{item}: {await copies.wait.aio()} copies"
'''

DRIVER = """
import json
import sys

import flyte
import flyte.models
import flyte.notify

import console_e2e

flyte.init_from_api_key(project=sys.argv[1], domain=sys.argv[2])
flyte.deploy(console_e2e.env)
# Port 9 (discard) refuses: the delivery log shows the webhook's failed attempts.
hook = flyte.notify.Webhook(on_phase=flyte.models.ActionPhase.FAILED, url="http://127.0.0.1:9/hook")
failed = flyte.with_runcontext(notifications=hook).run(console_e2e.boom, x=7)
failed.wait()
print(json.dumps({"failed": failed.name}))
"""


@dataclass
class ConsoleSession:
    url: str
    """``http://127.0.0.1:<port>``."""
    api_key: str
    """The admin API key the server wrote."""
    failed_run: str
    """A failed run of ``boom(x=7)``."""
    log_path: Path
    artifacts: Path
    data_dir: Path
    """The server's --data-dir (its local blob store is ``blobs/`` in it)."""
    token: str = ""
    _token_expires: float = field(default=0.0)

    def bearer(self) -> str:
        import base64

        if time.monotonic() > self._token_expires:
            _, client_id, secret, _ = base64.b64decode(self.api_key).decode().rsplit(":", 3)
            response = httpx.post(
                f"{self.url}/oauth2/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
                timeout=30,
            )
            response.raise_for_status()
            self.token = response.json()["access_token"]
            self._token_expires = time.monotonic() + 600
        return self.token

    def call(self, service: str, method: str, request: dict[str, Any], token: str | None = None) -> httpx.Response:
        """A unary Connect call with the JSON encoding (as the console makes it)."""
        return httpx.post(
            f"{self.url}/{service}/{method}",
            json=request,
            headers={"Connect-Protocol-Version": "1", "Authorization": f"Bearer {token or self.bearer()}"},
            timeout=30,
        )

    def actions(self, run: str) -> list[dict[str, Any]]:
        response = self.call(
            "flyteidl2.workflow.RunService",
            "ListActions",
            {"runId": {"project": PROJECT, "domain": DOMAIN, "name": run}, "request": {"limit": 1000}},
        )
        response.raise_for_status()
        return list(response.json().get("actions", []))


def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("FLYTE_TEST_ARTIFACTS")
    path = Path(chosen) / "console" if chosen else tmp_path_factory.mktemp("console-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {path}")
    return path


def wait_until_ready(server: subprocess.Popen[bytes], log_path: Path) -> str:
    import re

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        ready = re.search(r"Flyte server ready at (\S+)", text)
        if ready:
            return ready.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"the server did not start:\n{log_path.read_text(errors='replace')}")


class Browser:
    """A headless Chromium at 1280x800 driven by Selenium, with the waits the tests need."""

    def __init__(self, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
            f"--user-data-dir={profile}",
            "--force-color-profile=srgb",
        ):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.viewport(1280, 800)

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """The page's own size (screenshots are exactly this big)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def click(self, css: str, timeout: float = 30) -> None:
        """A real click (Selenium's: the element must be visible and not covered)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        element = WebDriverWait(self.driver, timeout).until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
        )
        element.click()

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def texts(self, css: str) -> list[str]:
        """The visible text of every element matching ``css``, read at once (no stale elements)."""
        return list(
            self.js(
                "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText ?? e.textContent)", css
            )
        )

    def text(self, css: str) -> str:
        found = self.texts(css)
        assert found, f"no element {css}"
        return found[0]

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as error:  # stale elements while the page redraws
                last_error = error
            time.sleep(0.2)
        body = self.js("return document.body.innerText")[-3000:]
        raise AssertionError(f"timed out waiting for {what} ({last_error}); the page says:\n{body}")

    def wait_css(self, css: str, timeout: float = 60) -> Any:
        return self.wait(lambda: self.find_all(css), f"an element {css}", timeout)[0]

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        self.driver.quit()
