from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flyte._image
from flyte._image import Image
from flyte._image_layers import AptPackages, CopyConfig, Env, PipPackages, Requirements, UVProject, WorkDir
from flyte._secret import Secret
from flyte.errors import ImageBuildError

SRC_ROOT = Path(flyte._image.__file__).parent.parent


def test_direct_construction_is_refused() -> None:
    with pytest.raises(TypeError, match=r"use Image.from_debian_base"):
        Image()


def test_from_base_uses_the_reference_as_is() -> None:
    image = Image.from_base("ghcr.io/acme/app:1.0")
    assert image.uri == "ghcr.io/acme/app:1.0"
    assert not image.needs_build


def test_empty_base_fails_only_when_the_uri_is_needed() -> None:
    image = Image.from_base(os.environ.get("SURELY_UNSET_IMAGE_VARIABLE", ""))
    with pytest.raises(ImageBuildError, match=r"no base image URI"):
        _ = image.uri


@pytest.mark.parametrize("bad", ["Bad Name", "UPPER/case:1", "x:tag with space"])
def test_malformed_base_reference_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"base_image must be an image reference"):
        Image.from_base(bad)


def test_debian_base_without_changes_is_the_published_image() -> None:
    image = Image.from_debian_base(python_version=(3, 12), flyte_version="2.1.0")
    assert image.uri == "ghcr.io/flyteorg/flyte:py3.12-v2.1.0"
    assert image.platform == ("linux/amd64", "linux/arm64")
    assert image.python_version == (3, 12)
    assert Image.from_debian_base().python_version == sys.version_info[:2]


def test_layers_make_a_new_image_with_a_content_tag() -> None:
    base = Image.from_debian_base(registry="ghcr.io/acme", name="etl", python_version=(3, 11))
    image = base.with_pip_packages("polars", "pyarrow")
    assert base.layers == ()
    assert image.layers == (PipPackages(packages=("polars", "pyarrow")),)
    registry_and_name, tag = image.uri.rsplit(":", 1)
    assert registry_and_name == "ghcr.io/acme/etl"
    assert len(tag) == 32 and tag == image.identifier
    assert image.uri != base.uri
    assert image.with_pip_packages("x").uri != image.uri


def test_unnamed_image_with_layers_is_named_flyte() -> None:
    assert Image.from_debian_base().with_apt_packages("git").uri.startswith("flyte:")


def test_same_spec_same_uri_and_equality() -> None:
    def make() -> Image:
        return Image.from_debian_base(name="a", python_version=(3, 11)).with_env_vars({"A": "1"})

    assert make() == make()
    assert make().uri == make().uri
    assert hash(make()) == hash(make())


def test_builder_methods_append_the_expected_layers(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n")
    image = (
        Image.from_debian_base(name="all")
        .with_apt_packages("git", "curl")
        .with_requirements(requirements)
        .with_env_vars({"THREADS": 4})  # type: ignore[dict-item]
        .with_workdir("/app")
        .with_commands("echo hi")
        .with_source_folder(tmp_path)
        .with_source_file([requirements, requirements])
        .with_uv_project(tmp_path / "pyproject.toml")
    )
    layers = image.layers
    assert layers[0] == AptPackages(packages=("git", "curl"))
    assert layers[1] == Requirements(file=requirements)
    assert layers[2] == Env(env_vars=(("THREADS", "4"),))
    assert layers[3] == WorkDir(workdir="/app")
    assert layers[4].commands == ("echo hi",)  # type: ignore[attr-defined]
    assert layers[5] == CopyConfig(src=tmp_path, dst=f"./{tmp_path.name}", kind="folder")
    assert layers[6] == layers[7] == CopyConfig(src=requirements, dst=".", kind="file")
    assert isinstance(layers[8], UVProject) and layers[8].uvlock == tmp_path / "uv.lock"


def test_pip_options_and_secret_mounts() -> None:
    layer = (
        Image.from_debian_base()
        .with_pip_packages(
            "a", index_url="https://idx", extra_index_urls="https://extra", pre=True, secret_mounts="tok"
        )
        .layers[-1]
    )
    assert layer == PipPackages(
        packages=("a",),
        index_url="https://idx",
        extra_index_urls=("https://extra",),
        pre=True,
        secret_mounts=(Secret("tok"),),
    )


def test_list_passed_instead_of_separate_packages_is_explained() -> None:
    with pytest.raises(TypeError, match=r"packages must be strings given as separate arguments, got list"):
        Image.from_debian_base().with_pip_packages(["a", "b"])  # type: ignore[arg-type]


def test_requirements_file_must_be_txt() -> None:
    with pytest.raises(ValueError, match=r"requirements file must have a .txt extension, got 'reqs.in'"):
        Image.from_debian_base().with_requirements("reqs.in")


def test_invalid_env_var_name() -> None:
    with pytest.raises(ValueError, match=r"env_vars has an invalid variable name 'MY-VAR'"):
        Image.from_debian_base().with_env_vars({"MY-VAR": "1"})


def test_base_images_cannot_be_extended_until_cloned() -> None:
    base = Image.from_base("python:3.11-slim")
    with pytest.raises(ValueError, match=r"cannot be extended.*clone\(name=..., extendable=True\)"):
        base.with_pip_packages("x")
    image = base.clone(name="mine", registry="localhost:5000", extendable=True).with_pip_packages("x")
    assert image.uri.startswith("localhost:5000/mine:")
    assert image.base_image == "python:3.11-slim"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Has Space"}, "name must be lower-case letters"),
        ({"name": "UPPER"}, "name must be lower-case letters"),
        ({"registry": "bad registry"}, "registry must look like"),
        ({"python_version": (2, 7)}, "python_version must be a Python 3 version"),
        ({"python_version": (3,)}, "python_version must be (major, minor)"),
        ({"platform": ("amd64",)}, "platform must be one or more of 'os/arch'"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Image.from_debian_base(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_single_platform_string_is_accepted() -> None:
    assert Image.from_debian_base(platform="linux/arm64").platform == ("linux/arm64",)  # type: ignore[arg-type]


def test_dockerfile_content_is_part_of_the_tag(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11\n")
    first = Image.from_dockerfile(dockerfile, registry="r.io", name="app").uri
    dockerfile.write_text("FROM python:3.12\n")
    assert Image.from_dockerfile(str(dockerfile), registry="r.io", name="app").uri != first
    with pytest.raises(FileNotFoundError, match=r"Dockerfile not found"):
        Image.from_dockerfile(tmp_path / "missing", registry="r.io", name="app")


def test_source_folder_content_is_part_of_the_tag(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    uri = Image.from_debian_base(name="s").with_source_folder(tmp_path / "pkg").uri
    assert Image.from_debian_base(name="s").with_source_folder(tmp_path / "pkg").uri == uri
    # Every file counts, as in Flyte 2's tag (tests/images/test_tags.py compares with it).
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert Image.from_debian_base(name="s").with_source_folder(tmp_path / "pkg").uri != uri


def test_missing_files_do_not_break_the_spec_but_fail_validate(tmp_path: Path) -> None:
    image = Image.from_debian_base(name="m").with_requirements(tmp_path / "missing.txt")
    assert image.uri.startswith("m:")
    with pytest.raises(FileNotFoundError, match=r"Requirements refers to .*missing.txt"):
        image.validate()


def test_uv_script_and_ref_name() -> None:
    image = Image.from_uv_script("job.py", name="job", python_version=(3, 12))
    assert image.base_image == "python:3.12-slim-bookworm"
    assert image.layers[0].script == Path("job.py")  # type: ignore[attr-defined]
    reference = Image.from_ref_name("gpu")
    with pytest.raises(ImageBuildError, match=r"from_ref_name\('gpu'\) must be resolved"):
        _ = reference.uri


def test_uri_is_stable_across_processes(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0\n")
    script = (
        "import sys\n"
        "from flyte._image import Image\n"
        "image = Image.from_debian_base(registry='ghcr.io/acme', name='app', python_version=(3, 11))\n"
        "print(image.with_pip_packages('polars').with_requirements(sys.argv[1]).with_env_vars({'A': 'b'}).uri)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC_ROOT), "PYTHONHASHSEED": "random"}

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", script, str(requirements)], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    first = run()
    assert first == run()
    here = Image.from_debian_base(registry="ghcr.io/acme", name="app", python_version=(3, 11))
    assert here.with_pip_packages("polars").with_requirements(requirements).with_env_vars({"A": "b"}).uri == first
    requirements.write_text("numpy==2.1\n")
    assert run() != first
