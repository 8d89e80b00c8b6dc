"""The console as a user drives it: real clicks in headless Chromium (Selenium) against one server.

Each test leaves screenshots at 1280x800 in the session's artifacts folder (printed at start) and
checks that they are real pictures of the page (PNG, that size, not one flat colour).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.support.ui import Select
from tests.console.helpers import DOMAIN, PROJECT, Browser, ConsoleSession

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

RUN_SERVICE = "flyteidl2.workflow.RunService"


def _check_screenshot(path: Path, width: int = 1280, height: int = 800) -> None:
    """A PNG of ``width``x``height`` whose pixels are not all the same (the page drew something)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    got_width, got_height = struct.unpack(">II", data[16:24])
    assert (got_width, got_height) == (width, height), (path, got_width, got_height)
    # Decompress the image data and look at its variety: a blank page is nearly one value.
    chunks = []
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    assert len(set(pixels[:: max(1, len(pixels) // 200_000)])) > 20, f"{path} looks blank"


def _shot(browser: Browser, console: ConsoleSession, name: str) -> None:
    path = browser.screenshot(console.artifacts / f"{name}.png")
    _check_screenshot(path)


def _launch(browser: Browser, console: ConsoleSession, task: str, values: dict[str, str]) -> str:
    """Open the task's page, fill its form, click Launch; the run's name (from the run page's address)."""
    browser.open(f"{console.url}/v2#/tasks/console_e2e.{task}")
    browser.wait_css("#launch-form")
    for name, value in values.items():
        browser.type(f"#input-{name}", value)
    browser.click("#launch-submit")
    url = browser.wait(
        lambda: browser.driver.current_url if "#/runs/" in browser.driver.current_url else None, "the run page"
    )
    return str(url.split("#/runs/", 1)[1].split("/")[0])


def _phase_of(browser: Browser, action: str) -> str | None:
    return browser.js(
        "const row = document.querySelector(`[data-action='${arguments[0]}']`);"
        "return row ? row.dataset.phase || null : null;",
        action,
    )


def test_launch_from_the_form_and_watch_it_in_the_tree_and_the_timeline(
    browser: Browser, console: ConsoleSession
) -> None:
    browser.open(f"{console.url}/v2#/tasks/console_e2e.fan_out")
    browser.wait_css("#launch-form")
    assert "fan_out(delay: float = 0.0, n: int) -> list[int]" in browser.find("#signature").text
    # Validated as the CLI validates: a bad integer is refused next to its field, nothing starts.
    browser.type("#input-n", "three")
    browser.click("#launch-submit")
    browser.wait(lambda: "three" in browser.find("#error-n").text, "the error next to n")
    assert "#/tasks/" in browser.driver.current_url

    browser.type("#input-n", "3")
    browser.type("#input-delay", "2")
    browser.click("#launch-submit")
    browser.wait(lambda: "#/runs/" in browser.driver.current_url, "the run page")
    # While it runs: the root and its three children in the tree.
    browser.wait(lambda: len(browser.find_all("#actions .vrow.node")) == 4, "four actions in the tree")
    browser.wait(lambda: _phase_of(browser, "a0") in ("RUNNING", "SUCCEEDED"), "the root running")
    _shot(browser, console, "01-run-tree")

    browser.click("#tab-timeline")
    browser.wait(lambda: len(browser.find_all("#timeline .bar")) >= 4, "a bar per action in the timeline")
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED" or None, "the run to succeed", timeout=90)
    browser.wait(lambda: len(browser.find_all("#timeline .bar.phase-succeeded")) >= 4, "four green bars")
    axis = browser.find("#timeline-axis").text
    assert "0 ms" in axis and " s" in axis, axis
    _shot(browser, console, "02-run-timeline")

    # Inputs and outputs of the root, rendered by type.
    browser.wait(lambda: browser.find_all("#io-outputs"), "the outputs")
    inputs = browser.text("#io-inputs")
    assert "n" in inputs and "3" in inputs and "delay" in inputs
    outputs = browser.texts("#io-outputs tr[data-name='o0'] ol.items > li")
    assert outputs == ["0", "1", "4"], outputs

    browser.click("#tab-graph")
    browser.wait(lambda: browser.find_all("#graph .gnode"), "the call graph")
    labels = [text.strip() for text in browser.texts("#graph .gnode text.glabel")]
    assert labels == ["fan_out", "square \u00d73"], labels
    _shot(browser, console, "03-run-graph")


def test_dataclass_output_as_a_table_and_the_report(browser: Browser, console: ConsoleSession) -> None:
    run = _launch(browser, console, "summarize", {"values": "[1, 2, 3, 6]", "label": "week"})
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED" or None, "the run to succeed", timeout=90)
    table = "#io-outputs tr[data-name='o0'] table.kv tr"
    cells = browser.wait(
        lambda: dict(zip(browser.texts(f"{table} th"), browser.texts(f"{table} td"), strict=True)),
        "the dataclass output as a table",
    )
    assert cells == {"total": "12", "mean": "3", "label": "week"}, cells

    browser.click(".report-link[data-attempt='1']")
    frame = browser.wait_css("iframe#report")
    browser.driver.switch_to.frame(frame)
    try:
        title = browser.wait(lambda: browser.find_all("#title"), "the report's heading")[0].text
    finally:
        browser.driver.switch_to.default_content()
    assert title == "Summary of week"
    # The report runs in a sandbox: it cannot read the console's session.
    assert browser.find("iframe#report").get_attribute("sandbox") == "allow-scripts allow-popups"
    _shot(browser, console, "04-report")
    assert run


def test_file_download_link_and_data_frame_preview(browser: Browser, console: ConsoleSession) -> None:
    import pandas as pd

    folder = console.data_dir / "blobs" / PROJECT / DOMAIN / "console-test"
    folder.mkdir(parents=True, exist_ok=True)
    frame_path = folder / "cities.parquet"
    pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 19.0, 31.2]}).to_parquet(frame_path)

    # A location outside the project's store is refused next to the field.
    browser.open(f"{console.url}/v2#/tasks/console_e2e.count_rows")
    browser.wait_css("#input-frame")
    browser.type("#input-frame", "/etc/passwd")
    browser.click("#launch-submit")
    browser.wait(lambda: "location of this server's store" in browser.find("#error-frame").text, "the refusal")

    _launch(browser, console, "count_rows", {"frame": str(frame_path)})
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED" or None, "the run to succeed", timeout=90)
    browser.wait(lambda: browser.find_all("#io-inputs table.preview"), "the data frame preview")
    header = browser.texts("#io-inputs table.preview th")
    cells = browser.texts("#io-inputs table.preview td")
    assert header == ["city", "temp"] and cells[:2] == ["Oslo", "3.5"], (header, cells)
    assert "3 of 3 rows" in browser.text("#io-inputs .frame")
    browser.wait(lambda: browser.text("#io-outputs").strip().endswith("3"), "len(frame) as the output")
    _shot(browser, console, "05-data-frame")

    _launch(browser, console, "artifacts", {"rows": "5"})
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED" or None, "the run to succeed", timeout=90)
    link = browser.wait(lambda: browser.find_all("#io-outputs tr[data-name='o0'] a.download"), "the file's link")[0]
    assert "notes.txt" in link.text
    href = link.get_attribute("href")
    assert "/__blob/" in href and "signature=" in href
    assert httpx.get(href, timeout=30).text == "hello from the task\n"


def test_abort_a_running_fan_out_then_relaunch_it(browser: Browser, console: ConsoleSession) -> None:
    run = _launch(browser, console, "fan_out", {"n": "4", "delay": "600"})
    browser.wait(lambda: len(browser.find_all("#actions .vrow.node")) == 5, "the root and four children")
    browser.wait(
        lambda: all(
            _phase_of(browser, row.get_attribute("data-action")) == "RUNNING"
            for row in browser.find_all("#actions .vrow.node")
        ),
        "every action running",
        timeout=90,
    )
    browser.click("#abort-run")
    assert browser.find("#abort-run").text == "Confirm abort"
    browser.click("#abort-run")
    browser.wait(
        lambda: all(row.get_attribute("data-phase") == "ABORTED" for row in browser.find_all("#actions .vrow.node")),
        "every action aborted in the tree",
        timeout=90,
    )
    phases = {action["id"]["name"]: action["status"]["phase"] for action in console.actions(run)}
    assert len(phases) == 5 and set(phases.values()) == {"ACTION_PHASE_ABORTED"}, phases
    _shot(browser, console, "06-aborted")

    browser.click("#relaunch")
    browser.wait(
        lambda: run not in browser.driver.current_url and "#/runs/" in browser.driver.current_url, "the new run"
    )
    relaunched = browser.driver.current_url.split("#/runs/", 1)[1].split("/")[0]
    browser.wait(lambda: len(browser.find_all("#actions .vrow.node")) == 5, "the relaunched fan-out's actions")
    browser.wait(lambda: browser.find_all("#io-inputs"), "the relaunched inputs")
    assert "600" in browser.text("#io-inputs"), "the same inputs"
    details = console.call(
        RUN_SERVICE, "GetRunDetails", {"runId": {"project": PROJECT, "domain": DOMAIN, "name": relaunched}}
    ).json()["details"]
    assert details["action"]["metadata"]["task"]["id"]["name"] == "console_e2e.fan_out"
    # Done with it: abort from the console again.
    browser.click("#abort-run")
    browser.click("#abort-run")
    browser.wait(
        lambda: {a["status"]["phase"] for a in console.actions(relaunched)} == {"ACTION_PHASE_ABORTED"},
        "the relaunched run aborted",
        timeout=90,
    )


def test_follow_search_and_download_a_log(browser: Browser, console: ConsoleSession) -> None:
    _launch(browser, console, "ticker", {"count": "40", "pause": "0.25"})
    browser.wait(lambda: browser.find_all("#log .logline"), "the first log lines", timeout=90)
    assert browser.find("#log-follow").is_selected()
    seen = len(browser.find_all("#log .logline"))
    browser.wait(lambda: len(browser.find_all("#log .logline")) > seen, "more lines while it runs")
    # Following: the pane stays scrolled to its end as lines arrive.
    browser.wait(
        lambda: browser.js(
            "const l = document.getElementById('log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5"
        ),
        "the log scrolled to its end",
    )
    browser.wait(lambda: len(browser.find_all("#log .logline")) >= 40, "all forty ticks", timeout=90)
    first = browser.find("#log .logline")
    assert first.find_element("css selector", ".ts").text[:4].isdigit(), "a timestamp on each line"
    assert browser.find_all("#log .logline.lvl-warning"), "WARNING lines get their level"

    browser.type("#log-search", "tick 1")
    lines = browser.texts("#log .logline")
    assert len(lines) == 11 and all("tick 1" in line for line in lines), lines  # tick 1, 10..19
    browser.js("const s = document.getElementById('log-search'); s.value = ''; s.dispatchEvent(new Event('input'));")
    Select(browser.find("#log-level")).select_by_value("warning")
    browser.wait(lambda: len(browser.find_all("#log .logline")) == 4, "only the four warnings")
    _shot(browser, console, "07-log")
    assert browser.find("#log-download").is_enabled()


def test_runs_list_filters_error_column_and_pages(browser: Browser, console: ConsoleSession) -> None:
    browser.open(f"{console.url}/v2#/runs")
    browser.wait_css(f"tr.run[data-run='{console.failed_run}']")
    error_cell = f"tr.run[data-run='{console.failed_run}'] .error-cell"
    browser.wait(lambda: browser.texts(error_cell) == ["ValueError: bad input 7"], "the error column")
    Select(browser.find("#filter-phase")).select_by_value("FAILED")
    browser.wait(lambda: "phase=FAILED" in browser.driver.current_url, "the phase filter in the address")
    browser.wait(
        lambda: (texts := browser.texts("tr.run")) and all("FAILED" in text for text in texts),
        "only failed runs",
    )
    _shot(browser, console, "08-runs-filtered")
    browser.open(f"{console.url}/v2#/runs?q={console.failed_run[:8]}")
    browser.wait(
        lambda: [r.get_attribute("data-run") for r in browser.find_all("tr.run")] == [console.failed_run],
        "the name search",
    )
    browser.open(f"{console.url}/v2#/runs?task=console_e2e.boom")
    browser.wait(lambda: browser.find_all("tr.run"), "runs of one task")
    assert all("console_e2e.boom" in text for text in browser.texts("tr.run"))
    assert "page 1" in browser.find("#pager").text


def test_pages_for_projects_secrets_triggers_and_a_phone(browser: Browser, console: ConsoleSession) -> None:
    browser.open(f"{console.url}/v2#/projects")
    browser.wait_css(f"tr[data-project='{PROJECT}']")
    browser.open(f"{console.url}/v2#/secrets")
    browser.wait(lambda: "No secrets." in browser.find("#secrets").text, "the (empty) secrets list")
    browser.open(f"{console.url}/v2#/triggers")
    browser.wait_css("#triggers tr[data-trigger='new-year'][data-active='false']")
    assert "cron 0 0 1 1 *" in browser.find("#triggers tr[data-trigger='new-year']").text
    browser.click("#triggers button[data-trigger='new-year']")
    browser.wait_css("#triggers tr[data-trigger='new-year'][data-active='true']")
    browser.click("#triggers button[data-trigger='new-year']")
    browser.wait_css("#triggers tr[data-trigger='new-year'][data-active='false']")
    browser.click("#theme")
    assert browser.js("return document.documentElement.dataset.theme") in ("dark", "light")
    browser.open(f"{console.url}/v2#/runs")
    browser.wait_css("tr.run")
    _shot(browser, console, "09-runs-theme")
    browser.click("#theme")
    try:
        browser.viewport(390, 844, mobile=True)
        browser.open(f"{console.url}/v2#/runs")
        browser.wait_css("tr.run")
        # Nothing but the runs table (which scrolls in its own box) is wider than the phone.
        assert browser.js("return document.documentElement.scrollWidth") <= 392
        browser.screenshot(console.artifacts / "10-phone.png")
        _check_screenshot(console.artifacts / "10-phone.png", 390, 844)
    finally:
        browser.viewport(1280, 800)


def _condition_row(browser: Browser, label: str) -> str | None:
    """The action name of the tree row labelled ``label`` (a condition's name), once it is PAUSED."""
    return browser.js(
        "for (const row of document.querySelectorAll('#actions .vrow.node')) {"
        "  if (row.querySelector('.label')?.textContent === arguments[0] && row.dataset.phase === 'PAUSED')"
        "    return row.dataset.action; }"
        "return null;",
        label,
    )


def test_answer_and_reject_conditions_by_clicking(browser: Browser, console: ConsoleSession) -> None:
    """A run waiting on flyte.new_condition: approve (bool) and answer (int) from the run page; reject another."""
    run = _launch(browser, console, "approval", {"item": "v2"})
    approve = browser.wait(lambda: _condition_row(browser, "approve"), "the approve condition, waiting", timeout=90)
    browser.click(f"[data-action='{approve}']")
    browser.wait(lambda: browser.text("#condition-prompt") == "Ship v2?", "the prompt")
    _shot(browser, console, "11-condition")
    browser.click("#condition-approve")
    copies = browser.wait(lambda: _condition_row(browser, "copies"), "the copies condition, waiting", timeout=90)
    browser.click(f"[data-action='{copies}']")
    browser.wait(lambda: browser.text("#condition-prompt") == "How many copies?", "the second prompt")
    browser.type("#condition-value", "2.5")
    browser.click("#condition-submit")
    browser.wait(lambda: "integer is expected" in browser.text("#condition-note"), "the type error next to the field")
    browser.type("#condition-value", "3")
    browser.click("#condition-submit")
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED", "the run succeeded", timeout=90)
    browser.click("[data-action='a0']")
    browser.wait(lambda: "v2: 3 copies" in browser.text("#io-outputs"), "the answer reached the task")

    rejected = _launch(browser, console, "approval", {"item": "v3"})
    approve = browser.wait(lambda: _condition_row(browser, "approve"), "the next approve condition", timeout=90)
    browser.click(f"[data-action='{approve}']")
    browser.wait(lambda: browser.text("#condition-prompt") == "Ship v3?", "the prompt of the second run")
    browser.type("#condition-reason", "not this week")
    browser.click("#condition-reject")
    assert browser.find("#condition-reject").text == "Confirm reject"
    browser.click("#condition-reject")
    browser.wait(lambda: _phase_of(browser, "a0") == "SUCCEEDED", "the rejected run ended", timeout=90)
    browser.click("[data-action='a0']")
    browser.wait(lambda: "v3: rejected" in browser.text("#io-outputs"), "the task saw ConditionFailedError")
    phases = {a["metadata"].get("condition", {}).get("name"): a["status"]["phase"] for a in console.actions(rejected)}
    assert phases.get("approve") == "ACTION_PHASE_FAILED", phases
    assert run != rejected


def test_the_run_page_shows_the_notification_delivery_log(browser: Browser, console: ConsoleSession) -> None:
    """The failed run has a flyte.notify webhook rule to a port that refuses: its delivery shows, with its status."""
    browser.open(f"{console.url}/v2#/runs/{console.failed_run}")
    line = browser.wait(
        lambda: [text for text in browser.texts("#run-notifications li") if "webhook" in text],
        "the delivery log in the run's summary",
    )[0]
    assert line.startswith("FAILED webhook http://127.0.0.1:9/hook: "), line
    assert line.split(": ", 1)[1].split()[0] in ("pending", "failed"), line


def test_a_viewer_sees_no_buttons_that_change_things(browser: Browser, console: ConsoleSession) -> None:
    created = console.call("flyte.auth.ApiKeyService", "CreateApiKey", {"name": "console-viewer", "role": "viewer"})
    assert created.status_code == 200, created.text
    viewer_key = created.json()["apiKey"]
    browser.click("#logout")
    browser.wait_css("#login")
    browser.type("#api-key", viewer_key)
    browser.click("#login button[type=submit]")
    try:
        browser.wait(lambda: "(viewer)" in browser.find("#who").text, "the viewer logged in")
        browser.open(f"{console.url}/v2#/runs/{console.failed_run}")
        browser.wait_css("#io-inputs")
        assert not browser.find_all("#relaunch") and not browser.find_all("#abort-run")
        browser.open(f"{console.url}/v2#/tasks/console_e2e.fan_out")
        browser.wait_css("#launch-denied")
        assert not browser.find_all("#launch-submit")
        browser.open(f"{console.url}/v2#/secrets")
        browser.wait(lambda: "needs the admin role" in browser.find("main").text, "secrets refused")
        _shot(browser, console, "11-viewer")
    finally:
        browser.click("#logout")
        browser.wait_css("#login")
        browser.type("#api-key", console.api_key)
        browser.click("#login button[type=submit]")
        browser.wait(lambda: "(admin)" in browser.find("#who").text, "the admin back")
