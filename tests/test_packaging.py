"""The distribution installs what it imports: every third-party module that ``src/`` imports is
a declared dependency (or, imported lazily, an optional extra), and the version names the Flyte 2
API level it implements.

A plain ``pip install .`` (no ``[dev]``) once failed at ``flyte deploy`` because ``pathspec`` was
imported but not declared; these tests catch that statically, in well under a second.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the check needs to run on one version only

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
OUR_PACKAGES = {"flyte", "flyte_server"}

# Declared on purpose although nothing in src/ imports them, each with the reason.
DECLARED_NOT_IMPORTED = {
    "aiosqlite": "SQLAlchemy's SQLite driver, loaded from the database URL",
    "asyncpg": "SQLAlchemy's PostgreSQL driver, loaded from the database URL",
    "aiofiles": "PyPI flyte brings it and user programs import it (README, Versioning and dependencies)",
    "async-lru": "PyPI flyte brings it and user programs import it (README, Versioning and dependencies)",
    "s3fs": "fsspec's s3:// filesystem, found by protocol name",
    "uv": "run as a program (the uv binary it installs) to build image virtualenvs, not imported",
}


# Modules whose distribution is installed by another, declared one: module distribution -> the declared one.
BROUGHT_BY = {"pydantic-monty-client": "pydantic-monty"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _normalise(match.group(1))


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = _project()
    runtime = {_requirement_name(r) for r in project["dependencies"]}  # type: ignore[attr-defined]
    extras = {
        extra: {_requirement_name(r) for r in requirements}
        for extra, requirements in project["optional-dependencies"].items()  # type: ignore[attr-defined]
        if extra != "dev"
    }
    return runtime, extras


def _is_guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import runs only when called (inside a function) or under ``if TYPE_CHECKING``."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
        if isinstance(current, ast.If) and "TYPE_CHECKING" in ast.unparse(current.test):
            return True
        current = parents.get(current)
    return False


def _is_optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits in a ``try`` that handles ``ImportError``: a package the user may add."""
    child, current = node, parents.get(node)
    while current is not None:
        if isinstance(current, ast.Try) and child in current.body:
            for handler in current.handlers:
                names = ast.unparse(handler.type) if handler.type is not None else "BaseException"
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
        child, current = current, parents.get(current)
    return False


@functools.cache
def _third_party_imports() -> dict[str, list[tuple[str, bool, bool]]]:
    """Top-level module name -> [(file:line, lazily imported?, guarded by ``except ImportError``?)]
    for every non-stdlib import in src/."""
    found: dict[str, list[tuple[str, bool, bool]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in OUR_PACKAGES:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.setdefault(top, []).append((where, _is_guarded(node, parents), _is_optional(node, parents)))
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions_of(module: str) -> set[str]:
    found = {_normalise(d) for d in _installed().get(module, [])}
    return found | {BROUGHT_BY[d] for d in found if d in BROUGHT_BY}


def test_every_imported_module_is_a_declared_dependency() -> None:
    runtime, extras = _declared()
    optional = set().union(*extras.values())
    problems = []
    for module, every_site in sorted(_third_party_imports().items()):
        # An import guarded by `except ImportError` works without the package (the user may add it).
        sites = [(where, lazy) for where, lazy, optional in every_site if not optional]
        if not sites:
            continue
        distributions = _distributions_of(module)
        assert distributions, f"{module} (imported at {sites[0][0]}) is not installed in the test environment"
        if distributions & runtime:
            continue
        if distributions & optional:
            eager = [where for where, lazy in sites if not lazy]
            if eager:
                problems.append(f"{module}: optional (an extra) but imported at module level at {', '.join(eager)}")
            continue
        problems.append(f"{module}: imported at {sites[0][0]} but no distribution of it ({distributions}) is declared")
    assert not problems, "\n".join(problems)


def test_every_declared_dependency_is_used_or_explained() -> None:
    runtime, extras = _declared()
    imported = set().union(*(_distributions_of(module) for module in _third_party_imports()))
    unexplained = (runtime | set().union(*extras.values())) - imported - set(DECLARED_NOT_IMPORTED)
    assert not unexplained, f"declared but never imported (remove them or say why here): {sorted(unexplained)}"


def test_runtime_dependencies_for_user_programs_are_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Versioning and dependencies", 1)
    assert len(section) == 2, "README has no 'Versioning and dependencies' section"
    for name in ("aiofiles", "async-lru"):
        assert f"`{name}`" in section[1], f"README does not name {name}"


def test_version_names_the_flyte_api_level_and_satisfies_plugin_requirements() -> None:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from flyte._version import API_VERSION, __version__

    version = Version(__version__)
    assert version.public == API_VERSION
    assert version.local is not None and version.local.startswith("ours")
    # What flyteplugins-* declare (plain `flyte`, or a floor), and an exact pin of the API level.
    for requirement in ("", ">=2", ">=2.0.0b0", "~=2.12", "==2.12.1", ">=2.12,<3"):
        assert SpecifierSet(requirement).contains(version), requirement
    for requirement in ("<2", "<2.12.1", ">=2.13"):
        assert not SpecifierSet(requirement).contains(version), requirement


def test_installed_metadata_matches_the_source_version() -> None:
    """The editable install's metadata (what pip resolves plugins against) carries the same version."""
    from flyte._version import __version__

    assert importlib.metadata.version("flyte") == __version__, "reinstall: pip install -e '.[dev]'"
