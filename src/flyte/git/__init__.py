"""Git helpers: the state of the repository the code runs from, and a config file at its root.

Example:
    >>> from flyte.git import GitStatus
    >>> status = GitStatus.from_current_repo()
    >>> status.is_valid in (True, False)
    True
"""

from __future__ import annotations

import logging
import pathlib
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte.config import Config

__all__ = ["GitStatus", "config_from_root"]

logger = logging.getLogger("flyte")


def _git(*args: str, cwd: pathlib.Path | None = None) -> str | None:
    """The stripped output of a git command, or ``None`` when git is missing or the command fails."""
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _https_url(url: str) -> str:
    """``git@host:org/repo.git`` and ``https://host/org/repo.git`` as ``https://host/org/repo``."""
    url = url.removesuffix(".git")
    if url.startswith("git@") and ":" in url:
        return "https://" + url[len("git@") :].replace(":", "/", 1)
    if url.startswith("ssh://"):
        rest = url[len("ssh://") :].split("@", 1)[-1]
        host, _, path = rest.partition("/")
        return f"https://{host.split(':')[0]}/{path}"
    return url


@dataclass
class GitStatus:
    """Where the code comes from: the repository, its commit, and whether the tree is clean.

    ``build_url`` links a source line to the hosted repository (GitHub and GitLab), the way the
    console links a task to its code.
    """

    is_valid: bool = False
    """Whether a git repository was found."""
    is_tree_clean: bool = False
    """Whether the working tree has no uncommitted changes."""
    remote_url: str = ""
    """The ``origin`` remote (else the first remote) as an https URL."""
    repo_dir: pathlib.Path = pathlib.Path(".")
    """The repository's top-level directory."""
    commit_sha: str = ""
    """The commit checked out."""

    @classmethod
    def from_current_repo(cls) -> GitStatus:
        """The status of the repository around the current directory (invalid when there is none)."""
        top = _git("rev-parse", "--show-toplevel")
        if not top:
            return cls()
        repo_dir = pathlib.Path(top)
        sha = _git("rev-parse", "HEAD", cwd=repo_dir)
        if sha is None:
            return cls(repo_dir=repo_dir)
        porcelain = _git("status", "--porcelain", cwd=repo_dir)
        remote = _git("remote", "get-url", "--push", "origin", cwd=repo_dir)
        if remote is None:
            names = (_git("remote", cwd=repo_dir) or "").split()
            remote = _git("remote", "get-url", "--push", names[0], cwd=repo_dir) if names else None
        return cls(
            is_valid=bool(remote),
            is_tree_clean=porcelain == "",
            remote_url=_https_url(remote or ""),
            repo_dir=repo_dir,
            commit_sha=sha,
        )

    def build_url(self, path: pathlib.Path | str, line_number: int) -> str:
        """A link to ``path`` at ``line_number`` in the hosted repository; ``""`` when none can be made.

        Clean trees link to the commit, dirty ones to the file's current state on the default branch.

        Example:
            >>> GitStatus(True, True, "https://github.com/acme/ml", pathlib.Path("/src"), "abc1").build_url(
            ...     "/src/train.py", 7)
            'https://github.com/acme/ml/blob/abc1/train.py#L7'
        """
        if not self.is_valid:
            return ""
        try:
            relative = pathlib.Path(path).resolve().relative_to(self.repo_dir.resolve()).as_posix()
        except ValueError:
            return ""
        host = self.remote_url.split("//", 1)[-1].split("/", 1)[0]
        ref = self.commit_sha if self.is_tree_clean else "HEAD"
        if "github" in host:
            return f"{self.remote_url}/blob/{ref}/{relative}#L{line_number}"
        if "gitlab" in host:
            return f"{self.remote_url}/-/blob/{ref}/{relative}#L{line_number}"
        logger.debug("No source links for git host %s", host)
        return ""


def config_from_root(path: pathlib.Path | str = ".flyte/config.yaml") -> Config | None:
    """The Flyte config file at ``path`` under the repository's top-level directory, if there is one.

    Example:
        >>> import flyte
        >>> flyte.init_from_config(config_from_root())  # doctest: +SKIP
    """
    top = _git("rev-parse", "--show-toplevel")
    if not top:
        return None
    candidate = pathlib.Path(top) / path
    if not candidate.is_file():
        return None
    from flyte.config import auto

    return auto(candidate)
