"""Image tags equal PyPI flyte's for the same spec, so either SDK finds the other's builds.

Every kind of layer is evaluated by both SDKs (the reference in its own interpreter, as a black
box) in the same folder of files, and the URIs must match.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SPECS = [
    "Image.from_debian_base(registry='r.io', name='x')",
    "Image.from_debian_base(python_version=(3, 12), registry='r.io', name='x')",
    "Image.from_debian_base(install_flyte=False, registry='r.io', name='x')",
    "Image.from_debian_base().with_pip_packages('humanize')",
    "Image.from_debian_base().with_pip_packages('a', 'b>=1', index_url='https://i', extra_index_urls=['https://e'],"
    " pre=True, extra_args='--foo', secret_mounts=['tok'])",
    "Image.from_debian_base().with_pip_packages('a', secret_mounts=[flyte.Secret(key='s1', as_env_var='X')])",
    "Image.from_debian_base().with_pip_packages('a').with_pip_packages('b')",
    "Image.from_debian_base().with_apt_packages('git', 'curl', secret_mounts=['s'])",
    "Image.from_debian_base().with_requirements(Path('req.txt'), index_url='https://i')",
    "Image.from_debian_base().with_env_vars({'A': '1', 'B': 'x y'}).with_workdir('/app')",
    "Image.from_debian_base().with_commands(['echo hi', 'ls'], secret_mounts='s')",
    "Image.from_debian_base().with_source_folder(Path('proj'))",
    "Image.from_debian_base().with_source_folder(Path('proj'), dst='/x', copy_contents_only=True)",
    "Image.from_debian_base().with_source_file(Path('req.txt'), dst='/opt/r.txt')",
    "Image.from_debian_base().with_uv_project('proj/pyproject.toml')",
    "Image.from_debian_base().with_uv_project('proj/pyproject.toml', project_install_mode='install_project',"
    " extra_args='X')",
    "Image.from_debian_base().with_poetry_project(Path('proj/pyproject.toml'), extra_args='X')",
    "Image.from_debian_base().with_pixi_project(Path('px/pixi.toml'))",
    "Image.from_debian_base().with_dockerignore(Path('.dockerignore'))",
    "Image.from_dockerfile(Path('Dockerfile'), registry='r.io', name='x')",
    "Image.from_uv_script('script.py', name='x', python_version=(3, 12), index_url='https://i')",
    "Image.from_base('python:3.11').clone(name='x', extendable=True).with_pip_packages('a')",
    "Image.from_debian_base().with_local_v2()",
]

_EVAL = r"""
import json, sys
import flyte
from flyte import Image
from pathlib import Path
out = []
for spec in json.loads(sys.argv[1]):
    try:
        out.append(eval(spec).uri)
    except Exception as error:
        out.append(f"error: {type(error).__name__}")
print(json.dumps(out))
"""


def _files(root: Path) -> None:
    (root / "req.txt").write_text("humanize\n")
    (root / "Dockerfile").write_text("FROM localhost/base\nRUN true\n")
    (root / ".dockerignore").write_text("*.pyc\n")
    (root / "proj" / "src" / "pkg").mkdir(parents=True)
    (root / "proj" / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (root / "proj" / "uv.lock").write_text("version = 1\n")
    (root / "proj" / "poetry.lock").write_text("# poetry\n")
    (root / "proj" / "src" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "proj" / "src" / "b.txt").write_text("b\n")
    (root / "px").mkdir()
    (root / "px" / "pixi.toml").write_text('[workspace]\nname = "p"\n')
    (root / "px" / "pixi.lock").write_text("version: 6\n")
    (root / "script.py").write_text(
        '# /// script\n# requires-python = ">=3.10"\n# dependencies = ["humanize"]\n# ///\n'
    )


def _uris(python: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        [python, "-c", _EVAL, json.dumps(SPECS)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tags_equal_the_reference_for_every_layer_kind(reference_python: str, tmp_path: Path) -> None:
    _files(tmp_path)
    ours, theirs = _uris(sys.executable, tmp_path), _uris(reference_python, tmp_path)
    mismatched = [(spec, a, b) for spec, a, b in zip(SPECS, ours, theirs, strict=True) if a != b]
    assert not mismatched, "\n".join(f"{spec}\n  ours {a}\n  ref  {b}" for spec, a, b in mismatched)
    assert not any(uri.startswith("error") for uri in ours)


def test_a_file_change_changes_the_tag(tmp_path: Path) -> None:
    from flyte import Image

    _files(tmp_path)
    before = Image.from_debian_base().with_requirements(tmp_path / "req.txt").uri
    (tmp_path / "req.txt").write_text("humanize==4.9.0\n")
    assert Image.from_debian_base().with_requirements(tmp_path / "req.txt").uri != before


@pytest.mark.parametrize("secret", ["tok", ["tok"]])
def test_secret_named_by_string_counts_once(secret: object) -> None:
    from flyte import Image

    a = Image.from_debian_base().with_pip_packages("a", secret_mounts=secret).uri  # type: ignore[arg-type]
    b = Image.from_debian_base().with_pip_packages("a").uri
    assert a != b
