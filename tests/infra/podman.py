"""podman for the container suites: this machine's settings, a cached Debian base image, a local registry.

The base image is built from Debian's packages (no registry can be pulled from here):
``debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm`` into a cache
directory once per machine, then ``podman import`` as :data:`DEBIAN_BASE` (Python 3.11, like the
project's own interpreter). A file lock makes concurrent sessions build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CONTAINERS_CONF",
    "DEBIAN_BASE",
    "debian_base_image",
    "local_registry",
    "podman_env",
    "podman_unavailable_reason",
]

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
DEBIAN_BASE = "localhost/flyte-test/debian:bookworm"
CACHE_DIR = Path(os.environ.get("FLYTE_TEST_IMAGE_CACHE", "/var/cache/flyte-ours-tests"))
DEBIAN_MIRROR = os.environ.get("FLYTE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def podman_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for podman/buildah processes: ``CONTAINERS_CONF`` set unless the caller set one."""
    env = dict(os.environ if base is None else base)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman_unavailable_reason() -> str | None:
    """Why podman cannot run containers here, or ``None`` when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (Debian: podman buildah runc fuse-overlayfs)"
    if os.geteuid() != 0:
        return "the container suites run podman as root"
    probe = subprocess.run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True,
                           text=True, env=podman_env())
    if probe.returncode != 0:
        return f"podman info failed: {probe.stderr.strip().splitlines()[-1:] or probe.returncode}"
    return None


def _image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref], env=podman_env()).returncode == 0


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def debian_base_image() -> str:
    """The reference of a Debian bookworm image with python3 (3.11); built on first use, then cached.

    Raises:
        RuntimeError: debootstrap or the import failed (its output in the message).
    """
    with _lock("debian-base"):
        if _image_exists(DEBIAN_BASE):
            return DEBIAN_BASE
        tarball = CACHE_DIR / "debian-bookworm-python3.tar"
        if not tarball.exists():
            if shutil.which("debootstrap") is None:
                raise RuntimeError("debootstrap is not installed (Debian package debootstrap)")
            with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
                root = Path(tmp) / "rootfs"
                done = subprocess.run(
                    ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                     "bookworm", str(root), DEBIAN_MIRROR],
                    capture_output=True, text=True,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
                partial = tarball.with_suffix(".partial")
                subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
                partial.rename(tarball)
        imported = subprocess.run(
            ["podman", "import", "--change", "CMD=/bin/bash", str(tarball), DEBIAN_BASE],
            capture_output=True, text=True, env=podman_env(),
        )
        if imported.returncode != 0:
            raise RuntimeError(f"podman import failed: {imported.stderr.strip()}")
        return DEBIAN_BASE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_registry() -> Iterator[str]:
    """A throwaway image registry (Debian's ``docker-registry``) on a loopback port; yields ``127.0.0.1:PORT``.

    podman talks to it over plain HTTP: push and pull with ``--tls-verify=false``.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="flyte-registry-") as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n"
            f"storage:\n  filesystem:\n    rootdirectory: {tmp}/data\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"docker-registry did not start: {err.strip()}")
                time.sleep(0.1)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
