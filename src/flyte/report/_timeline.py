"""A chronological timeline of rows in a report tab, and the helpers that format its cells."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

__all__ = ["Timeline", "abbreviate", "duration_ms"]

_HARD_CAP = 20_000


def abbreviate(value: Any, limit: int = 300) -> str:
    """``value`` as HTML-escaped text for a report cell; long text folds into a ``<details>``.

    The fold shows the first ``limit`` characters and how many more there are; opening it shows
    the whole text (up to 20,000 characters).

    Example:
        >>> abbreviate("<b>")
        '&lt;b&gt;'
        >>> abbreviate("x" * 10, limit=4).startswith("<details")
        True
    """
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return html.escape(text)
    preview = html.escape(text[:limit])
    full = html.escape(text[:_HARD_CAP]) + ("…" if len(text) > _HARD_CAP else "")
    return (
        '<details style="display:inline-block;max-width:100%"><summary style="cursor:pointer">'
        f"{preview}… (+{len(text) - limit})</summary>"
        f'<pre style="white-space:pre-wrap;word-break:break-word;margin:4px 0 0">{full}</pre></details>'
    )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_ms(start_iso: Any, end_iso: Any) -> str:
    """The time between two ISO-8601 timestamps as ``"<n> ms"``; ``""`` when either is unreadable.

    Example:
        >>> duration_ms("2024-01-01T00:00:00Z", "2024-01-01T00:00:01.5Z")
        '1500 ms'
        >>> duration_ms(None, "2024-01-01T00:00:00Z")
        ''
    """
    start, end = _parse_time(start_iso), _parse_time(end_iso)
    if start is None or end is None:
        return ""
    try:
        return f"{round((end - start).total_seconds() * 1000)} ms"
    except TypeError:  # one timestamp has a zone and the other does not
        return ""


class Timeline:
    """Rows appended, in order, to a tab of the running task's report.

    Outside a task, or in a task without ``report=True``, rows go nowhere: drawing a timeline
    never breaks the work it describes.

    Example:
        >>> timeline = Timeline("steps")
        >>> timeline.heading("Training")
        >>> timeline.row(icon="✓", label="epoch 1", meta="12 s", detail="loss 0.31")
    """

    def __init__(self, tab_name: str = "main") -> None:
        self.tab_name = tab_name
        self._started = False

    def _append(self, fragment: str) -> None:
        from flyte.report import current_report

        report = current_report()
        if report is None:
            return
        tab = report.get_tab(self.tab_name)
        if not self._started:
            tab.log(
                "<style>.flyte-tl{font-family:sans-serif;font-size:13px}.flyte-tl td{padding:2px 8px;"
                "vertical-align:top}.flyte-tl .err{color:#b00020}</style>"
            )
            self._started = True
        tab.log(fragment)

    def heading(self, text: Any) -> None:
        """A section heading in the timeline."""
        self._append(f'<h3 class="flyte-tl">{abbreviate(text, 200)}</h3>')

    def row(self, *, icon: str = "•", label: Any = "", meta: str = "", detail: str = "", error: Any = None) -> None:
        """One row: an icon, a label, a meta column (a duration, a time), a detail and an error.

        ``detail`` is HTML the caller built (use :func:`abbreviate` for values); the other cells
        are escaped.
        """
        cells = [html.escape(icon), abbreviate(label, 120), html.escape(meta), detail]
        if error is not None:
            cells.append(f'<span class="err">{abbreviate(error)}</span>')
        self._append('<table class="flyte-tl"><tr>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr></table>")
