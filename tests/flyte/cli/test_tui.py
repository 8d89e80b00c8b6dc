"""``flyte run --local --tui``: the Textual app shows the live action tree and the tasks' output
(driven with Textual's test pilot)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio
    import flyte

    env = flyte.TaskEnvironment(name="tui_demo")


    @env.task
    async def square(i: int) -> int:
        print(f"squaring {i}")
        await asyncio.sleep(0.3)
        return i * i


    @env.task
    async def main(n: int) -> int:
        return sum(await asyncio.gather(*(square(i) for i in range(n))))
    """
)


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    (tmp_path / "tui_demo.py").write_text(PROGRAM)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("tui_demo", None)
    import tui_demo  # type: ignore[import-not-found]

    return tui_demo


def _labels(node) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for child in node.children:
        found.append(str(child.label))
        found.extend(_labels(child))
    return found


async def test_local_run_tree_fills_in_live_and_output_is_captured(program) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import RichLog, Tree

    import flyte
    from flyte.cli._tui import LocalRunWithTui

    flyte.init()
    driver = LocalRunWithTui("main", lambda: flyte.with_runcontext(mode="local").run(program.main, n=3))
    async with driver.app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 60
        labels: list[str] = []
        while time.monotonic() < deadline:
            await pilot.pause(0.2)
            labels = _labels(driver.app.query_one("#tree", Tree).root)
            if driver.finished.is_set() and len(labels) == 4 and all("SUCCEEDED" in label for label in labels):
                break
        assert driver.error is None
        assert len(labels) == 4, labels  # the root and its three children
        assert sum("square" in label for label in labels) == 3
        assert all("SUCCEEDED" in label for label in labels), labels
        tree = driver.app.query_one("#tree", Tree)
        root_action = tree.root.children[0]
        assert [str(child.label).split()[1] for child in root_action.children] == ["tui_demo.square"] * 3
        output = "\n".join(str(line.text) for line in driver.app.query_one("#log", RichLog).lines)
        assert "squaring 0" in output and "squaring 2" in output
        await pilot.press("q")
    assert driver.run is not None and driver.run.outputs()[0] == 0 + 1 + 4


async def test_a_failing_local_run_is_reported_after_the_app(program) -> None:  # type: ignore[no-untyped-def]
    import flyte
    from flyte.cli._tui import LocalRunWithTui

    flyte.init()
    driver = LocalRunWithTui("main", lambda: flyte.with_runcontext(mode="local").run(program.main, n="x"))
    async with driver.app.run_test() as pilot:
        for _ in range(100):
            await pilot.pause(0.1)
            if driver.finished.is_set():
                break
        await pilot.press("q")
    assert driver.error is not None and driver.run is None
    await asyncio.sleep(0)
