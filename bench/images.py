"""Images: venv materialisation (cold, warm, per-attempt overhead) and container builds, with PyPI
flyte's local builder on the same Image where it can run here.

    python bench/images.py [--skip-containers]

Venv figures use a fresh venv cache; "cold, empty uv cache" also empties uv's download cache (so
humanize comes from PyPI). Container figures need podman and the test Debian base
(tests/infra/podman.py builds it once) and push to a throwaway loopback registry. The reference
builder (``image.builder: local-podman``) is run as a black box on the same Image; what happens
is printed (it pulls ``ghcr.io/astral-sh/uv``, which no registry here serves; with a local stand-in
for that image it gets further).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _reference import reference_python

from flyte import Image
from flyte._internal.venvs import materialize, plan_venv

HUMANIZE = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("humanize")


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


def _median_run(argv: list[str], runs: int = 7, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_venvs() -> None:
    print("== images as virtualenvs (uv) ==")
    with tempfile.TemporaryDirectory(prefix="bench-venvs-") as tmp:
        root = Path(tmp)
        saved = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(root / "uv-cache")
        try:
            cold_empty, _ = _timed(materialize, plan_venv(HUMANIZE), cache_dir=root / "a")
        finally:
            if saved is None:
                os.environ.pop("UV_CACHE_DIR")
            else:
                os.environ["UV_CACHE_DIR"] = saved
        cold, venv = _timed(materialize, plan_venv(HUMANIZE), cache_dir=root / "b")
        warm = statistics.median(_timed(materialize, plan_venv(HUMANIZE), cache_dir=root / "b")[0] for _ in range(20))
        print(f"cold build, one small package (humanize), empty uv cache : {cold_empty * 1000:8.0f} ms")
        print(f"cold build, one small package (humanize), warm uv cache  : {cold * 1000:8.0f} ms")
        print(f"warm reuse (lookup of the ready venv)                     : {warm * 1000:8.2f} ms")
        plain = _median_run([sys.executable, "-c", "import flyte"])
        from flyte._internal.venvs.enter import wrap_command

        wrapped = wrap_command(
            ["python", "-c", "import flyte, humanize"],
            image=HUMANIZE.uri,
            worker_python=sys.executable,
            server_python=sys.executable,
            cache_dir=root / "b",
        )
        entered = _median_run(wrapped or [])  # fmt: skip
        in_venv = _median_run([str(venv / "bin" / "python"), "-c", "import flyte, humanize"])
        print(f"process start, worker python -c 'import flyte'            : {plain * 1000:8.0f} ms")
        print(f"process start, venv python -c 'import flyte, humanize'    : {in_venv * 1000:8.0f} ms")
        print(f"the same through the attempt's venv entry (warm venv)     : {entered * 1000:8.0f} ms")
        print(f"  (venv: {venv})")


def _podman_ready() -> str | None:
    from infra.podman import podman_unavailable_reason

    os.environ.setdefault("CONTAINERS_CONF", str(Path(__file__).parent.parent / "tests" / "infra" / "containers.conf"))
    return podman_unavailable_reason()


def bench_containers() -> None:
    print("== container builds (podman) ==")
    reason = _podman_ready()
    if reason:
        print(f"skipped: {reason}")
        return
    from flyte._build import build
    from infra.podman import debian_base_image, local_registry

    base = debian_base_image()
    os.environ["FLYTE_DEBIAN_BASE"] = base
    os.environ["FLYTE_CONTAINER_TOOL"] = "podman"
    name = "flyte-bench-images"
    with local_registry() as registry:
        nonce = uuid.uuid4().hex[:8]
        # A fresh first layer: every layer after it is built again (uv's download cache stays warm).
        ours = (
            Image.from_debian_base(python_version=(3, 11), registry=registry, name=name)
            .with_env_vars({"BENCH_NONCE": nonce})
            .with_pip_packages("humanize")
        )
        cold, result = _timed(build, ours)
        print(f"ours: build + push, flyte debian base (local stand-in + this flyte), humanize : {cold:6.1f} s")
        forced, _ = _timed(build, ours, force=True)
        print(f"ours: rebuild of the same image (layer cache) + push                          : {forced:6.1f} s")
        skip, again = _timed(build, ours)
        print(f"ours: build of an image the registry has (skipped: {again.existed})                  : {skip:6.2f} s")
        same = (
            Image.from_base(base)
            .clone(registry=registry, name=name, extendable=True)
            .with_env_vars({"BENCH_NONCE": nonce})
            .with_pip_packages("humanize")
        )
        plain, _ = _timed(build, same)
        print(f"ours: from_base(debian).with_pip_packages('humanize'), build + push           : {plain:6.1f} s")
        ran = subprocess.run(
            ["podman", "run", "--rm", "--label", "flyte-bench=images", result.uri, "python", "-c",
             "import humanize; print(humanize.intcomma(10**6))"],
            capture_output=True, text=True,
        )  # fmt: skip
        print(f"ours: podman run of the image: {ran.stdout.strip() or ran.stderr.strip()[-200:]}")
        _reference_build(base, registry, name, nonce)
        listed = subprocess.run(
            ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference=*{name}*"],
            capture_output=True, text=True,
        )  # fmt: skip
        refs = [r for r in listed.stdout.split() if name in r]
        if refs:
            subprocess.run(["podman", "rmi", "--force", *refs], capture_output=True)


_REFERENCE_BUILD = """
import sys, time, flyte
from flyte import Image
flyte.init(image_builder="local-podman")
image = (Image.from_base(sys.argv[1]).clone(registry=sys.argv[2], name=sys.argv[3], extendable=True)
         .with_env_vars({"BENCH_NONCE": sys.argv[4]}).with_pip_packages("humanize"))
started = time.perf_counter()
try:
    result = flyte.build(image, force=True)
    print("RESULT ok", f"{time.perf_counter() - started:.1f} s", result.uri)
except Exception as error:
    print("RESULT failed", f"{time.perf_counter() - started:.1f} s", type(error).__name__, str(error)[:300])
"""

_UV_STAND_IN = "ghcr.io/astral-sh/uv:0.13.4"


def _reference_build(base: str, registry: str, name: str, nonce: str) -> None:
    python = reference_python(create=False)
    if python is None:
        print("reference: no reference venv")
        return

    def attempt(label: str) -> None:
        done = subprocess.run(
            [python, "-c", _REFERENCE_BUILD, base, registry, name, nonce],
            capture_output=True, text=True, timeout=900, env={**os.environ, "HOME": tempfile.mkdtemp()},
        )  # fmt: skip
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), done.stderr[-300:])
        cause = [x.strip() for x in (done.stdout + done.stderr).splitlines() if "cause:" in x or "Error:" in x][:2]
        print(f"reference local-podman ({label}): {line.removeprefix('RESULT ')}")
        for text in cause:
            print(f"    {text[:200]}")

    attempt("as is")
    # A local image under the name the reference's Dockerfile copies uv from, holding this machine's uv.
    from flyte._internal.imagebuild.dockerfile import _uv_binary

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "uv").write_bytes(Path(_uv_binary()).read_bytes())
        Path(tmp, "uv").chmod(0o755)
        Path(tmp, "Dockerfile").write_text("FROM scratch\nCOPY uv /uv\n")
        made = subprocess.run(["podman", "build", "-q", "--label", "flyte-bench=images", "-t", _UV_STAND_IN, tmp],
                              capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        print(f"could not make the uv stand-in image: {made.stderr.strip()[-200:]}")
        return
    try:
        attempt(f"with a local stand-in for {_UV_STAND_IN}")
    finally:
        subprocess.run(["podman", "rmi", "--force", _UV_STAND_IN], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-containers", action="store_true")
    args = parser.parse_args()
    bench_venvs()
    if not args.skip_containers:
        bench_containers()


if __name__ == "__main__":
    main()
