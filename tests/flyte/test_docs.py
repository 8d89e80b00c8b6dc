from __future__ import annotations

from typing import Any

import pytest

from flyte._docs import Documentation, Link


def test_documentation() -> None:
    assert Documentation("Cleans events.").description == "Cleans events."
    assert Documentation(description="x") == Documentation("x")
    assert Documentation().description is None
    with pytest.raises(ValueError, match=r"Documentation.description must be a string, got 3"):
        Documentation(3)  # type: ignore[arg-type]


def test_link_protocol() -> None:
    class Dashboard:
        name = "Dashboard"
        icon_uri = ""

        def get_link(
            self,
            run_name: str,
            project: str,
            domain: str,
            context: dict[str, str],
            parent_action_name: str,
            action_name: str,
            pod_name: str,
            **kwargs: Any,
        ) -> str:
            return f"https://dash/{project}/{run_name}/{action_name}"

    link = Dashboard()
    assert isinstance(link, Link)
    assert link.get_link("r1", "p", "d", {}, "a0", "a1", "pod") == "https://dash/p/r1/a1"
    assert not isinstance(object(), Link)
