"""Keeping tasks away from the control plane: their environment, their user, the server's file modes.

A task is user code. It must not be able to read what would let it act as the server: the master
key, the database, the object store's credentials, the server's environment. Three layers:

- **Environment.** Workers get an allow-list of the server's environment (``PATH``, locale, proxy
  and CA settings, ...) plus what the engine sets per attempt; nothing else (not
  ``FLYTE_SERVER_SECRET_KEY``, not ``AWS_SECRET_ACCESS_KEY``, not a database URL).
- **User.** A server running as root starts its workers as an unprivileged user
  (``--worker-user``, default ``flyte-worker``, created on first start), so file modes keep them out.
- **File modes.** The data directory is ``0700`` and the key and database files ``0600``; the
  worker user is given only what it needs: traverse (``x``, no listing) on the directories above
  its working areas and its Python, through a POSIX ACL entry for that user alone.

See ``docs/isolation.md`` for the whole picture.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import logging
import os
import pwd
import shutil
import stat
import struct
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "DEFAULT_WORKER_USER",
    "INHERITED_ENV",
    "WorkerIdentity",
    "WorkerUserError",
    "grant_traverse",
    "harden_data_dir",
    "harden_file",
    "inherited_environment",
    "make_owned_dirs",
    "open_dir_chain",
    "open_for_append",
    "open_worker_file",
    "prepare_worker_areas",
    "resolve_worker_identity",
    "sqlite_file",
    "user_options",
]

logger = logging.getLogger(__name__)

DEFAULT_WORKER_USER = "flyte-worker"
"""The user workers run as when the server runs as root and ``--worker-user`` is not given."""

INHERITED_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
    }
)
"""The variables of the server's environment that workers inherit (plus every ``LC_*``)."""

_INHERITED_PREFIXES = ("LC_",)


class WorkerUserError(RuntimeError):
    """The worker user cannot be used (unknown, not creatable, or it cannot run the worker Python)."""


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environ`` a worker may see: :data:`INHERITED_ENV` and ``LC_*``, nothing else.

    Example:
        >>> inherited_environment({"PATH": "/bin", "FLYTE_SERVER_SECRET_KEY": "k", "LC_ALL": "C"})
        {'PATH': '/bin', 'LC_ALL': 'C'}
    """
    return {key: value for key, value in environ.items() if key in INHERITED_ENV or key.startswith(_INHERITED_PREFIXES)}


@dataclass(frozen=True)
class WorkerIdentity:
    """The unprivileged user workers run as."""

    name: str
    """Its user name."""
    uid: int
    """Its user id."""
    gid: int
    """Its primary group id."""

    @property
    def owner(self) -> tuple[int, int]:
        """``(uid, gid)``, for ``os.chown``."""
        return self.uid, self.gid


def user_options(worker: WorkerIdentity | None) -> dict[str, Any]:
    """The ``asyncio.create_subprocess_exec`` keyword arguments that start a process as ``worker``.

    A ``preexec_fn`` (uvloop, the server's loop, has no ``user``/``group`` arguments): drop the
    supplementary groups, then the group, then the user, in the child before it executes.
    """
    if worker is None:
        return {}
    uid, gid = worker.uid, worker.gid

    def become_worker() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return {"preexec_fn": become_worker}


def resolve_worker_identity(requested: str | None) -> WorkerIdentity | None:
    """The user workers run as, or ``None`` when they run as the server's own user.

    Only a server running as root switches users. ``requested`` ``None`` means the default
    (:data:`DEFAULT_WORKER_USER`, created on demand, or ``nobody`` when it cannot be created); the
    server's own user (``root``) or ``""`` means no switch.

    Raises:
        WorkerUserError: a named user that does not exist, or a switch asked of a non-root server.
    """
    if os.geteuid() != 0:
        if requested and requested != _current_user_name():
            raise WorkerUserError(
                f"--worker-user {requested} needs the server to run as root (it runs as {_current_user_name()})"
            )
        return None
    if requested is not None and requested in ("", "root", "0"):
        return None
    name = requested or DEFAULT_WORKER_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if requested is not None:
            raise WorkerUserError(f"--worker-user {requested}: there is no such user") from None
        entry = _create_system_user(name)
    if entry.pw_uid == 0:
        return None
    return WorkerIdentity(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)


def _current_user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _create_system_user(name: str) -> pwd.struct_passwd:
    """Create a system user without a home or a login shell; ``nobody`` when that is impossible."""
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return pwd.getpwnam(name)
    except (OSError, subprocess.SubprocessError, KeyError) as error:
        # Another server may have created it at the same moment.
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
        logger.warning("cannot create the worker user %s (%s): workers run as nobody", name, error)
    try:
        return pwd.getpwnam("nobody")
    except KeyError as error:
        raise WorkerUserError(f"cannot create the worker user {name} and there is no user nobody") from error


def harden_file(path: Path) -> None:
    """``chmod 0600`` ``path`` when it exists (the server's key, database and its journal files)."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, 0o600)


def harden_data_dir(data_dir: Path, database_file: Path | None) -> None:
    """The data directory ``0700``; its key and SQLite files ``0600`` (created so when missing).

    SQLite gives its ``-wal``/``-shm``/``-journal`` files the database file's mode, so creating
    the (empty) database file ``0600`` first keeps all of them private.
    """
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    has_acl = bool(_acl_xattr(data_dir))
    # With an ACL (the worker user's traverse entry) the group bits are its mask: keep them.
    wanted = 0o700 | (mode & 0o070 if has_acl else 0)
    if mode != wanted:
        os.chmod(data_dir, wanted)
    if database_file is not None:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            harden_file(database_file.with_name(database_file.name + suffix))
    harden_file(data_dir / "server.key")


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL (``sqlite+aiosqlite:////path/db``), ``None`` for other databases.

    Example:
        >>> sqlite_file("sqlite+aiosqlite:////srv/flyte/flyte.db")
        PosixPath('/srv/flyte/flyte.db')
    """
    scheme, sep, rest = database_url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return None
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


_trusted_bases: set[Path] = set()
"""Directories workers cannot write to (the data directory), from which :func:`make_owned_dirs` walks."""


def make_owned_dirs(path: Path, owner: tuple[int, int] | None, mode: int = 0o755) -> None:
    """``mkdir -p path``, handing every directory it creates to ``owner`` (none: the server's user).

    With an ``owner``, the part of ``path`` below a trusted base (see :func:`prepare_worker_areas`)
    lies in directories the worker owns, so it is walked one directory descriptor at a time without
    following symlinks: a symlink a task planted where a future attempt's directory goes (to
    ``/etc``, say) fails the call instead of making the server create or chown things there.

    Raises:
        OSError: a component is a symlink or not a directory.
    """
    if owner is None:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        return
    absolute = Path(os.path.abspath(path))
    base = max(
        (b for b in _trusted_bases if absolute == b or b in absolute.parents), key=lambda b: len(b.parts), default=None
    )
    if base is None:
        base = absolute.parent
        base.mkdir(parents=True, exist_ok=True)
    uid, gid = owner

    def hand_over(parent_fd: int, name: str) -> None:
        os.chown(name, uid, gid, dir_fd=parent_fd, follow_symlinks=False)

    fd = open_dir_chain(base, absolute.relative_to(base).parts, on_create=hand_over, mode=mode)
    try:
        st = os.fstat(fd)
        if (st.st_uid, st.st_gid) != owner:
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def open_dir_chain(
    base: Path,
    parts: Iterable[str],
    *,
    on_create: Callable[[int, str], None] | None = None,
    mode: int = 0o755,
) -> int:
    """A descriptor of ``base/parts...``, creating missing directories, never following a symlink below ``base``.

    ``on_create(parent_fd, name)`` runs for each directory created. The caller closes the result.

    Raises:
        OSError: a component is a symlink (``ELOOP``) or not a directory (``ENOTDIR``).
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(base, flags)
    try:
        for name in parts:
            if name in ("", ".", "..") or os.sep in name:
                raise PermissionError(errno.EACCES, "unsafe path component", name)
            try:
                os.mkdir(name, mode, dir_fd=fd)
                if on_create is not None:
                    on_create(fd, name)
            except FileExistsError:
                pass
            child = os.open(name, flags | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_worker_file(path: Path, *, root: Path | None = None) -> BinaryIO:
    """Open for reading a file a task may have tampered with (a log, an output).

    The last component may not be a symlink, the file must be a regular file (not a FIFO that
    blocks or a device that never ends), and with ``root`` its directory must really lie under
    ``root`` (no symlinked directory on the way).

    Raises:
        OSError: any of that does not hold (``FileNotFoundError`` when there is no such file).
    """
    if root is not None:
        real_parent = os.path.realpath(path.parent)
        real_root = os.path.realpath(root)
        if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
            raise PermissionError(errno.EACCES, "outside its directory", str(path))
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def prepare_worker_areas(
    worker: WorkerIdentity,
    *,
    data_dir: Path,
    owned: Iterable[Path],
    reachable: Iterable[Path],
    python: str,
) -> None:
    """Make what workers need reachable for ``worker``, and nothing more.

    ``owned`` directories (working directories, logs, the warm worker's state, its home) are
    created and handed to ``worker``; ``reachable`` paths (the data directory, the blob store, the
    worker Python and the zygote script) get traverse rights on the way to them. Then ``python``
    must start as ``worker``.

    Raises:
        WorkerUserError: ``worker`` cannot run ``python``.
    """
    _trusted_bases.add(Path(os.path.abspath(data_dir)))
    for directory in owned:
        make_owned_dirs(directory, worker.owner)
    targets = [data_dir, *reachable]
    python_path = Path(python)
    targets += [python_path.parent, Path(os.path.realpath(python_path)).parent]
    for target in targets:
        grant_traverse(target, worker)
    try:
        probe = subprocess.run(
            [python, "-c", "pass"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ.get("PATH", os.defpath)},
            cwd="/",
            user=worker.uid,
            group=worker.gid,
            extra_groups=[],
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise WorkerUserError(f"the worker user {worker.name} cannot run {python}: {error}") from error
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        raise WorkerUserError(
            f"the worker user {worker.name} cannot run {python} ({last}); make that Python environment readable "
            "for it, or run tasks as root with --worker-user root"
        )


def open_for_append(path: Path) -> BinaryIO:
    """Open (creating, ``0600``) a file in a directory a worker owns, for the server to append to.

    A symlink there (to ``/etc/shadow``, say) is not followed and a FIFO does not block, so a task
    cannot make the server, or the worker writing through the descriptor it hands over, write to
    another file.

    Raises:
        OSError: the path is a symlink or not a regular file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


# -- POSIX ACLs, written as the kernel's extended attribute (no setfacl needed) ------------------

_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_UNDEFINED_ID = 0xFFFFFFFF
_EXECUTE = 0o1


def _acl_xattr(path: Path) -> bytes:
    try:
        return os.getxattr(path, _ACL_XATTR)
    except OSError:
        return b""


def _acl_entries(path: Path, st: os.stat_result) -> list[tuple[int, int, int]]:
    raw = _acl_xattr(path)
    if len(raw) >= 4 and struct.unpack_from("<I", raw)[0] == _ACL_VERSION:
        return [struct.unpack_from("<HHI", raw, offset) for offset in range(4, len(raw) - 7, 8)]
    mode = st.st_mode
    return [
        (_USER_OBJ, (mode >> 6) & 7, _UNDEFINED_ID),
        (_GROUP_OBJ, (mode >> 3) & 7, _UNDEFINED_ID),
        (_OTHER, mode & 7, _UNDEFINED_ID),
    ]


def _may_traverse(st: os.stat_result, entries: Iterable[tuple[int, int, int]], worker: WorkerIdentity) -> bool:
    if st.st_uid == worker.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_mode & stat.S_IXOTH:
        return True
    named = {ident: perm for tag, perm, ident in entries if tag == _USER}
    if worker.uid in named:
        mask = next((perm for tag, perm, _ in entries if tag == _MASK), 7)
        return bool(named[worker.uid] & mask & _EXECUTE)
    if st.st_gid == worker.gid or worker.name in _group_members(st.st_gid):
        return bool(st.st_mode & stat.S_IXGRP)
    return False


def _group_members(gid: int) -> list[str]:
    try:
        return list(grp.getgrgid(gid).gr_mem)
    except KeyError:
        return []


def _add_traverse_entry(path: Path, st: os.stat_result, entries: list[tuple[int, int, int]], uid: int) -> None:
    named = [entry for entry in entries if not (entry[0] == _USER and entry[2] == uid)]
    previous = next((perm for tag, perm, ident in entries if tag == _USER and ident == uid), 0)
    named.append((_USER, previous | _EXECUTE, uid))
    group_obj = next((perm for tag, perm, _ in entries if tag == _GROUP_OBJ), (st.st_mode >> 3) & 7)
    others = [e for e in named if e[0] != _MASK]
    mask = next((perm for tag, perm, _ in entries if tag == _MASK), None)
    if mask is None:
        mask = group_obj
        for tag, perm, _ in others:
            if tag in (_USER, _GROUP):
                mask |= perm
    others.append((_MASK, mask | _EXECUTE, _UNDEFINED_ID))
    others.sort(key=lambda entry: (entry[0], entry[2]))
    data = struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *entry) for entry in others)
    os.setxattr(path, _ACL_XATTR, data)


def grant_traverse(path: Path, worker: WorkerIdentity) -> None:
    """Let ``worker`` traverse ``path`` and every directory above it (``x`` only: no listing).

    A directory it cannot traverse gets a POSIX ACL entry for that one user; where the filesystem
    has no ACLs, the directory gets ``o+x`` instead (logged).
    """
    path = Path(os.path.abspath(path))
    for directory in [path, *path.parents]:
        try:
            st = directory.stat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        entries = _acl_entries(directory, st)
        if _may_traverse(st, entries, worker):
            continue
        try:
            _add_traverse_entry(directory, st, entries, worker.uid)
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            logger.warning("no ACLs on %s: making it traversable by everyone (o+x) for the worker user", directory)
            os.chmod(directory, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
