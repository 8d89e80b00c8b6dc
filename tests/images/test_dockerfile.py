"""Image layers -> Dockerfile: deterministic, one instruction per layer kind, host settings only mounted."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte import Image, Secret
from flyte._internal.imagebuild.dockerfile import render, write_context
from flyte.errors import ImageBuildError

BASE = Image.from_debian_base(python_version=(3, 11), registry="localhost:5000", name="app")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "proj" / "pkg").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "proj" / "uv.lock").write_text("version = 1\n")
    (tmp_path / "proj" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "req.txt").write_text("humanize\n")
    (tmp_path / "job.py").write_text('# /// script\n# dependencies = ["humanize>=4", "rich"]\n# ///\nprint(1)\n')
    return tmp_path


def test_every_layer_kind_renders_and_the_result_is_deterministic(tmp_path: Path) -> None:
    root = _project(tmp_path)
    image = (
        BASE.with_apt_packages("git", "curl")
        .with_pip_packages("numpy>=2", index_url="https://idx.example/simple", extra_index_urls=["https://x.example"])
        .with_requirements(root / "req.txt")
        .with_uv_project(root / "proj" / "pyproject.toml")
        .with_env_vars({"MODE": "prod", "GREETING": "hello world"})
        .with_workdir("/app")
        .with_commands(["echo built > /built"], secret_mounts=[Secret(key="tok", as_env_var="TOKEN")])
        .with_source_folder(root / "proj" / "pkg")
        .with_source_file(root / "req.txt", dst="/opt/req.txt")
    )
    first, second = render(image, base_override=""), render(image, base_override="")
    assert first.dockerfile == second.dockerfile
    text = first.dockerfile
    assert text.splitlines()[2] == "FROM ghcr.io/flyteorg/flyte:py3.11-v2.12.1"
    assert f"# flyte image {image.identifier}" in text
    assert "apt-get install -y -q --no-install-recommends git curl" in text
    assert "uv pip install --python /opt/venv/bin/python --index-url https://idx.example/simple " \
           "--extra-index-url https://x.example 'numpy>=2'" in text  # fmt: skip
    assert "-r /run/flyte-req/requirements.txt" in text
    assert "uv sync --frozen --inexact --no-install-project" in text
    assert 'ENV MODE=prod GREETING="hello world"' in text
    assert "WORKDIR /app" in text
    assert "--mount=type=secret,id=tok,target=/run/secrets/tok" in text
    assert 'export TOKEN="$(cat /run/secrets/tok)"; echo built > /built' in text
    assert 'COPY ["_flyte/layer7/pkg/", "./pkg"]' in text
    assert 'COPY ["_flyte/layer8/req.txt", "/opt/req.txt"]' in text
    assert "--mount=type=cache,target=/root/.cache/uv" in text
    assert first.secrets == {"tok": Secret(key="tok", as_env_var="TOKEN")}


def test_context_holds_the_layer_files_and_host_settings(tmp_path: Path) -> None:
    root = _project(tmp_path)
    plan = render(BASE.with_requirements(root / "req.txt").with_source_folder(root / "proj"), base_override="")
    dockerfile = write_context(plan, tmp_path / "ctx")
    assert dockerfile.read_text() == plan.dockerfile
    assert (tmp_path / "ctx" / "_flyte" / "layer0" / "requirements.txt").read_text() == "humanize\n"
    assert (tmp_path / "ctx" / "_flyte" / "layer1" / "proj" / "pyproject.toml").exists()
    assert (tmp_path / "ctx" / "_flyte" / "uv").stat().st_size > 1_000_000
    pip_conf = (tmp_path / "ctx" / "_flyte" / "host" / "pip.conf").read_text()
    assert "cert = /run/flyte-host/ca.pem" in pip_conf and "file:" not in pip_conf
    assert b"BEGIN CERTIFICATE" in (tmp_path / "ctx" / "_flyte" / "host" / "ca.pem").read_bytes()
    # Host settings are bind-mounted while a step runs, never copied into a layer.
    assert "COPY _flyte/host" not in plan.dockerfile and "source=_flyte/host" in plan.dockerfile


def test_uv_script_installs_its_header_dependencies(tmp_path: Path) -> None:
    root = _project(tmp_path)
    text = render(Image.from_uv_script(root / "job.py", name="job", python_version=(3, 11))).dockerfile
    assert "FROM python:3.11-slim-bookworm" in text
    assert "useradd --create-home --shell /bin/bash flyte" in text
    assert "'humanize>=4' rich" in text


def test_debian_base_override_builds_on_the_local_base(tmp_path: Path) -> None:
    image = BASE.with_pip_packages("humanize")
    plan = render(image, base_override="localhost/flyte-test/debian:bookworm")
    assert "FROM localhost/flyte-test/debian:bookworm" in plan.dockerfile
    assert "uv venv --python python3 --system-site-packages /opt/venv" in plan.dockerfile
    assert any(name.startswith("_flyte/wheels/flyte-") for name in plan.files)
    assert plan.notes and "instead of ghcr.io/flyteorg/flyte:py3.11-v2.12.1" in plan.notes[0]


def test_a_dockerfile_image_is_built_as_written(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM localhost/base\nRUN true\n")
    assert render(Image.from_dockerfile(dockerfile, registry="r.io", name="x")).dockerfile == dockerfile.read_text()


def test_pixi_layers_are_refused_with_a_way_out(tmp_path: Path) -> None:
    (tmp_path / "pixi.toml").write_text('[workspace]\nname = "p"\n')
    with pytest.raises(ImageBuildError, match="not supported by this image builder; install the packages with"):
        render(BASE.with_pixi_project(tmp_path / "pixi.toml"), base_override="")


def test_the_published_base_needs_no_bootstrap() -> None:
    text = render(BASE.with_pip_packages("humanize"), base_override="").dockerfile
    assert "uv venv" not in text and "_flyte/wheels" not in text
    assert "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH" in text


def test_a_local_wheel_goes_into_the_context(tmp_path: Path) -> None:
    wheel = tmp_path / "tool-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    plan = render(BASE.with_pip_packages(str(wheel), "humanize"), base_override="")
    assert plan.files["_flyte/layer0/tool-1.0-py3-none-any.whl"] == wheel
    assert "source=_flyte/layer0/tool-1.0-py3-none-any.whl,target=/run/flyte-local/tool-1.0-py3-none-any.whl" in (
        plan.dockerfile
    )
    assert "/run/flyte-local/tool-1.0-py3-none-any.whl humanize" in plan.dockerfile


def test_a_named_image_resolves_through_configuration() -> None:
    import flyte
    from flyte._build import build

    with pytest.raises(ImageBuildError, match="names no configured image"):
        build(Image.from_ref_name("h3-gpu"))
    flyte.init(images={"h3-gpu": "ghcr.io/acme/gpu:1"})
    try:
        assert build(Image.from_ref_name("h3-gpu")).uri == "ghcr.io/acme/gpu:1"
    finally:
        flyte.init()
