"""The console with 10,000 runs and a run of 10,000 actions: first paint in headless Chromium vs the API calls.

Seeds a fresh server's SQLite database (through the server's own SQLAlchemy models) with
``--runs`` finished runs and one run of ``--actions`` actions (a root and its children, each with
one attempt), starts ``flyte start server`` on it, then measures with Selenium and Chromium:

* the runs list (``/v2#/runs``): from navigation start to the first run row in the DOM;
* the big run's page (``/v2#/runs/<run>``): from navigation start to the first action rows of its
  tree and to its action details being shown;

and, side by side, the latency of the Connect calls each page makes first (``ListRuns`` with 50
rows; ``GetRunDetails`` + ``ListActions`` of 1,000 + ``GetActionDetails``), timed with httpx.
The time of first paint is taken by a MutationObserver injected before the page's own scripts
(Page.addScriptToEvaluateOnNewDocument), so the console itself carries no benchmark hooks.
Median of ``--repeat`` cold page loads (a fresh navigation each; the browser cache revalidates).

Usage: python bench/console.py [--runs 10000] [--actions 10000] [--repeat 5]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

PROJECT = "flytesnacks"
DOMAIN = "development"
BIG_RUN = "bigrun"
BIG_ACTIONS = [10_000]
TARGETS_MS = {"runs list": 500.0, "run page": 1500.0}

_OBSERVER = """
window.__paint = {};
const __start = () => {
  const watch = { runs: "tr.run", tree: "#actions .vrow.node", detail: "#action-detail h2" };
  const check = () => {
    for (const [key, selector] of Object.entries(watch)) {
      if (!(key in window.__paint) && document.querySelector(selector)) window.__paint[key] = performance.now();
    }
  };
  new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true });
};
if (document.documentElement) __start(); else document.addEventListener("readystatechange", __start, { once: true });
"""


def _load_helper(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(database: Path, runs: int, actions: int) -> None:
    """``runs`` one-action runs and one run of ``actions`` actions, all SUCCEEDED, in the server's schema."""
    from flyteidl2.common import phase_pb2
    from sqlalchemy import create_engine

    from flyte_server.store.models.runs import ActionRow, AttemptRow

    engine = create_engine(f"sqlite:///{database}")
    now_us = int(time.time() * 1e6) - 86_400_000_000
    succeeded = phase_pb2.ACTION_PHASE_SUCCEEDED
    failed = phase_pb2.ACTION_PHASE_FAILED
    common = {
        "project": PROJECT,
        "domain": DOMAIN,
        "action_type": 1,
        "task_project": PROJECT,
        "task_domain": DOMAIN,
        "task_version": "v1",
        "environment_name": "bench",
        "attempts": 1,
    }
    rows = []
    attempts = []
    for index in range(runs):
        created = now_us + index * 1_000_000
        phase = failed if index % 10 == 0 else succeeded
        rows.append(
            {
                **common,
                "run_name": f"r{index:06d}",
                "name": "a0",
                "phase": phase,
                "task_name": "bench.main",
                "short_name": "main",
                "created_us": created,
                "updated_us": created + 500_000,
                "ended_us": created + 500_000,
            }
        )
    start = now_us + runs * 1_000_000
    for index in range(actions):
        name = "a0" if index == 0 else f"child{index:05d}"
        created = start + index * 1000
        rows.append(
            {
                **common,
                "run_name": BIG_RUN,
                "name": name,
                "parent_name": "" if index == 0 else "a0",
                "group_name": "" if index == 0 else f"wave{index // 1000}",
                "phase": succeeded,
                "task_name": "bench.big" if index == 0 else "bench.leaf",
                "short_name": "big" if index == 0 else "leaf",
                "created_us": created,
                "updated_us": created + 200_000,
                "ended_us": start + actions * 1000 + 100_000 if index == 0 else created + 200_000,
            }
        )
        attempts.append(
            {
                "project": PROJECT,
                "domain": DOMAIN,
                "run_name": BIG_RUN,
                "action_name": name,
                "attempt": 1,
                "phase": succeeded,
                "started_us": created,
                "ended_us": created + 200_000,
            }
        )
    with engine.begin() as connection:
        for chunk in range(0, len(rows), 5000):
            connection.execute(ActionRow.__table__.insert(), rows[chunk : chunk + 5000])
        for chunk in range(0, len(attempts), 5000):
            connection.execute(AttemptRow.__table__.insert(), attempts[chunk : chunk + 5000])
    engine.dispose()


def api_latency(base: str, repeat: int) -> dict[str, float]:
    headers = {"Connect-Protocol-Version": "1"}
    run_id = {"project": PROJECT, "domain": DOMAIN, "name": BIG_RUN}
    calls = {
        "runs list": [
            ("RunService/ListRuns", {"projectId": {"name": PROJECT, "domain": DOMAIN}, "request": {"limit": 50}}),
        ],
        "run page": [
            ("RunService/GetRunDetails", {"runId": run_id}),
            ("RunService/ListActions", {"runId": run_id, "request": {"limit": 1000}}),
            ("RunService/GetActionDetails", {"actionId": {"run": run_id, "name": "a0"}}),
        ],
    }
    out = {}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for page, requests in calls.items():
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                for path, body in requests:
                    response = client.post(f"/flyteidl2.workflow.{path}", json=body)
                    response.raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            out[page] = statistics.median(samples)
        # All 10,000 actions (what the tree loads after its first page).
        started = time.perf_counter()
        token = ""
        count = 0
        while True:
            response = client.post(
                "/flyteidl2.workflow.RunService/ListActions",
                json={"runId": run_id, "request": {"limit": 1000, "token": token}},
            ).json()
            count += len(response.get("actions", []))
            token = response.get("token", "")
            if not token:
                break
        out["all actions"] = (time.perf_counter() - started) * 1000
        out["all actions count"] = count
    return out


def browser_paint(base: str, repeat: int) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _OBSERVER})

        def measure(url: str, keys: list[str]) -> dict[str, float]:
            driver.get("about:blank")
            driver.get(url)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                paint = driver.execute_script("return window.__paint || {}")
                if all(key in paint for key in keys):
                    return {key: float(paint[key]) for key in keys}
                time.sleep(0.05)
            raise SystemExit(f"{url}: never saw {keys}; got {driver.execute_script('return window.__paint')}")

        measure(f"{base}/v2#/runs", ["runs"])  # warm the browser's process and the server's caches once
        lists = [measure(f"{base}/v2#/runs", ["runs"])["runs"] for _ in range(repeat)]
        pages = [measure(f"{base}/v2#/runs/{BIG_RUN}", ["tree", "detail"]) for _ in range(repeat)]
        # Then the whole tree: every page of actions loaded and laid out (still a few dozen rows drawn).
        height = "return parseInt(document.querySelector('.vspacer').style.height) / 30"
        started = time.perf_counter()
        while driver.execute_script(height) < BIG_ACTIONS[0] and time.perf_counter() - started < 120:
            time.sleep(0.1)
        whole_tree_ms = (time.perf_counter() - started) * 1000
        switch = (
            "const done = arguments[arguments.length - 1]; const started = performance.now();"
            "document.getElementById(arguments[0]).click();"
            "requestAnimationFrame(() => setTimeout(() => done(performance.now() - started), 0));"
        )
        tabs = {name: driver.execute_async_script(switch, f"tab-{name}") for name in ("timeline", "graph", "tree")}
        rows_drawn = driver.execute_script("return document.querySelectorAll('#actions .vrow').length")
        driver.execute_script("document.getElementById('actions').scrollTop = 150000")
        time.sleep(0.3)
        scrolled = driver.execute_script("return document.querySelectorAll('#actions .vrow').length")
        total_rows = driver.execute_script("return parseInt(document.querySelector('.vspacer').style.height) / 30")
        return {
            "runs list": statistics.median(lists),
            "run page": statistics.median(page["tree"] for page in pages),
            "run page detail": statistics.median(page["detail"] for page in pages),
            "rows in the DOM": rows_drawn,
            "rows after scrolling": scrolled,
            "rows in the tree": total_rows,
            "whole tree after detail": whole_tree_ms,
            "tabs": tabs,
        }
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server_helper = _load_helper("_server")
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        root = Path(tmp)
        # Start once to create the schema, stop, seed, start again on the seeded database.
        server, _ = server_helper.start_server(root, sys.executable, 2)
        server_helper.stop_server(server)
        started = time.perf_counter()
        BIG_ACTIONS[0] = args.actions
        seed(root / "data" / "flyte.db", args.runs, args.actions)
        seeded_s = time.perf_counter() - started
        (root / "server-home").rename(root / "server-home-1")
        server, port = server_helper.start_server(root, sys.executable, 2)
        base = f"http://127.0.0.1:{port}"
        try:
            api = api_latency(base, args.repeat)
            paint = browser_paint(base, args.repeat)
        finally:
            server_helper.stop_server(server)
    print(f"seeded {args.runs} runs and a run of {args.actions} actions in {seeded_s:.1f} s")
    print(f"{'page':<12} {'first paint (browser)':>22} {'target':>8} {'API calls':>10}")
    for page in ("runs list", "run page"):
        verdict = "ok" if paint[page] <= TARGETS_MS[page] else "OVER"
        print(f"{page:<12} {paint[page]:>19.0f} ms {TARGETS_MS[page]:>5.0f} ms {api[page]:>7.1f} ms  {verdict}")
    print(f"run page: action details shown at {paint['run page detail']:.0f} ms")
    print(
        f"all {api['all actions count']} actions over ListActions (pages of 1000): {api['all actions']:.0f} ms; "
        f"tree rows in the DOM: {paint['rows in the DOM']} of {paint['rows in the tree']:.0f} "
        f"({paint['rows after scrolling']} after scrolling to the middle); the whole tree was laid out "
        f"{paint['whole tree after detail']:.0f} ms after the last measurement"
    )
    tabs = ", ".join(f"{name} {ms:.0f} ms" for name, ms in paint["tabs"].items())
    print(f"switching views on the whole {args.actions}-action run (click to next frame): {tabs}")


if __name__ == "__main__":
    main()
