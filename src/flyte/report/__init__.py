"""HTML reports: tasks declared with ``report=True`` write ``report.html`` next to their outputs.

Example:
    >>> import flyte.report
    >>> @env.task(report=True)  # doctest: +SKIP
    ... async def train() -> None:
    ...     flyte.report.log("<h1>loss</h1>")
    ...     flyte.report.get_tab("metrics").log("<p>0.1</p>")
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

from flyte._context import ctx
from flyte._internal.syncify import with_aio
from flyte.report._timeline import Timeline, abbreviate, duration_ms

__all__ = [
    "Report",
    "Tab",
    "Timeline",
    "abbreviate",
    "current_report",
    "duration_ms",
    "flush",
    "get_tab",
    "log",
    "replace",
]


@dataclass
class Tab:
    """One tab of a report: HTML fragments in the order they were logged."""

    name: str
    """The tab's title."""
    content: list[str] = field(default_factory=list)
    """HTML fragments."""

    def log(self, content: str) -> None:
        """Append an HTML fragment."""
        self.content.append(content)

    def replace(self, content: str) -> None:
        """Replace the tab's content."""
        self.content = [content]

    def get_html(self) -> str:
        """The tab's HTML."""
        return "\n".join(self.content)


@dataclass
class Report:
    """The report of one action; a ``main`` tab plus any named by :func:`get_tab`."""

    name: str
    """The action the report belongs to."""
    tabs: dict[str, Tab] = field(default_factory=lambda: {"main": Tab("main")})
    """Tabs by title."""

    def get_tab(self, name: str) -> Tab:
        """The tab called ``name``, created on first use."""
        if name not in self.tabs:
            self.tabs[name] = Tab(name)
        return self.tabs[name]

    def get_final_report(self) -> str:
        """The whole report as one HTML page."""
        sections = "\n".join(
            f'<section class="tab"><h2>{html.escape(tab.name)}</h2>\n{tab.get_html()}\n</section>'
            for tab in self.tabs.values()
            if tab.content
        )
        title = html.escape(self.name)
        head = f'<head><meta charset="utf-8"><title>{title}</title></head>'
        return f"<!DOCTYPE html>\n<html>{head}\n<body>\n{sections}\n</body></html>\n"

    def write_to(self, directory: str) -> str | None:
        """Write ``report.html`` into ``directory`` (a local path); returns its path."""
        if "://" in directory and not directory.startswith("file://"):
            return None
        directory = directory.removeprefix("file://")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "report.html")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.get_final_report())
        return path


def current_report() -> Report | None:
    """The report of the running task, or ``None`` outside a task."""
    task_context = ctx()
    return task_context.report if task_context else None


def get_tab(name: str) -> Tab:
    """A tab of the running task's report (a throw-away tab outside a task)."""
    report = current_report()
    return report.get_tab(name) if report is not None else Tab(name)


@with_aio
def log(content: str, do_flush: bool = False) -> None:
    """Append HTML to the main tab; ``do_flush`` writes the report now (also ``await log.aio(...)``)."""
    get_tab("main").log(content)
    if do_flush:
        flush()


@with_aio
def replace(content: str, do_flush: bool = False) -> None:
    """Replace the main tab's content (also ``await replace.aio(...)``)."""
    get_tab("main").replace(content)
    if do_flush:
        flush()


@with_aio
def flush() -> None:
    """Write the running task's report to its output directory now (also ``await flush.aio()``)."""
    task_context = ctx()
    if task_context:
        task_context.report.write_to(task_context.output_path)
