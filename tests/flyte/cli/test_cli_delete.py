"""``flyte delete local-cache``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Cli = Callable[..., Result]


def test_delete_local_cache_removes_cached_outputs(flyte_cli: Cli, tasks_file: Path, tmp_path: Path) -> None:
    args = ["run", "--local", tasks_file.name, "main", "--x", "1", "--names", '["a","b","c"]', "--opts"]
    args.append('{"scale":1,"label":"L"}')
    assert "0 cached" in flyte_cli(*args).stderr

    result = flyte_cli("delete", "local-cache")
    assert result.exit_code == 0
    assert result.stdout == f"Removed 3 entries from the local cache at {tmp_path / 'cache'}\n"

    assert "0 cached" in flyte_cli(*args).stderr, "a run after deleting the cache runs every task again"


def test_delete_empty_or_missing_cache(flyte_cli: Cli, tmp_path: Path) -> None:
    result = flyte_cli("delete", "local-cache")
    assert result.exit_code == 0
    assert result.stdout.startswith("Removed 0 entries")
    assert not (tmp_path / "cache").exists(), "deleting a cache that does not exist must not create it"


def test_delete_local_cache_json(flyte_cli: Cli, tmp_path: Path) -> None:
    result = flyte_cli("-of", "json", "delete", "local-cache")
    assert json.loads(result.stdout) == {"directory": str(tmp_path / "cache"), "removed": 0}
