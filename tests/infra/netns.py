"""Network namespaces with only loopback, for processes that must not reach (or advertise) real interfaces."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["delete_netns", "ensure_netns", "netns_exec", "netns_unavailable_reason"]


def netns_unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no ``ip``), or ``None`` when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    return None


def ensure_netns(name: str) -> str:
    """Create namespace ``name`` (if missing) with ``lo`` up; return its name."""
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    if not any(line.split()[0] == name for line in existing.splitlines() if line.strip()):
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True, capture_output=True)
    return name


def delete_netns(name: str) -> None:
    """Remove namespace ``name``; processes still inside keep running but lose it from ``ip netns list``."""
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def netns_exec(name: str) -> list[str]:
    """The argv prefix that runs a command inside namespace ``name``."""
    return ["ip", "netns", "exec", name]
