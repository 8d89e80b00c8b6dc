"""A warm worker (a "zygote"): runs in the *worker* environment and forks one child per attempt.

Run as ``<worker python> _zygote_main.py <entry point name> <preload file>``. It imports the
runtime's console-script entry point (``a0``) and the modules earlier attempts needed, then
answers launch requests (one JSON object per line on stdin) by forking: the child starts its own
session, takes the attempt's working directory, log file, environment and argv, and calls the
entry function, so an attempt costs a fork instead of a Python start-up plus imports.

Forking a process that imported an SDK needs care: threads do not survive a fork, and an event
loop created at import shares its epoll and wake-up sockets with every child. So while importing,
``Thread.start`` is deferred (the threads start in each child instead), and each child gives every
idle event loop a fresh selector and self-pipe before running. Before each fork ``gc.freeze()``
keeps the collector off the inherited objects (fewer copied pages); a child ends by joining its
threads and running its atexit handlers, then ``os._exit`` (tearing down hundreds of inherited
modules would cost more than the task). The first children report the modules they imported; the
zygote imports them too (and the server remembers them for the next start), so later children
find them loaded.

Replies on stdout (one JSON object per line): ``{"ready": ...}`` once, ``{"id", "pid"}`` or
``{"id", "error"}`` per launch, ``{"exit": pid, "code": n}`` when a child exits, and
``{"learned": [...]}`` when a child's imports were added to the warm set.

This file must only use the standard library: the worker environment does not have the server.
"""

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import asyncio
import gc
import importlib
import importlib.metadata
import json
import selectors
import signal
import socket
import threading
import traceback
from collections.abc import Callable
from typing import IO, Any

_LEARN_FROM_CHILDREN = 8
"""How many children report their imports (until the warm set stops growing)."""

_deferred_threads: list[threading.Thread] = []
_original_start = threading.Thread.start


def _defer_start(thread: threading.Thread) -> None:
    _deferred_threads.append(thread)


class _BecomeChild(Exception):
    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__()
        self.request = request


class Zygote:
    def __init__(self, entry_name: str, preload_path: str) -> None:
        self.entry_name = entry_name
        self.preload_path = preload_path
        self.entry: Callable[[], Any] | None = None
        self.reuse = False
        self.serve_attempts: Callable[[str, str, str], int] | None = None
        self.entry_value = ""
        self.out: IO[bytes] = os.fdopen(os.dup(1), "wb", buffering=0)
        # Anything printed by imported modules goes to the zygote's log, not into the protocol.
        os.dup2(2, 1)
        self.buffer = b""
        self.reports: dict[int, tuple[str, str]] = {}
        self.learning = _LEARN_FROM_CHILDREN
        self.prefixes = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message).encode() + b"\n")

    def warm(self) -> int:
        threading.Thread.start = _defer_start  # type: ignore[method-assign,assignment]
        try:
            found = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == self.entry_name]
            if not found:
                raise LookupError(f"no console script {self.entry_name!r} in {sys.prefix}")
            self.entry_value = found[0].value
            self.entry = found[0].load()
            self.reuse = self.load_reused_worker()
            preloaded = 0
            if self.preload_path and os.path.exists(self.preload_path):
                with open(self.preload_path) as names:
                    preloaded = self.preload([line.strip() for line in names if line.strip()])
        finally:
            threading.Thread.start = _original_start  # type: ignore[method-assign]
        _find_event_loops()
        return preloaded

    def load_reused_worker(self) -> bool:
        """Whether the runtime can run many attempts in one process (``<runtime package>.worker.serve``)."""
        package = self.entry_value.split(":", 1)[0].rsplit(".", 1)[0]
        try:
            module = importlib.import_module(f"{package}.worker")
        except Exception:
            return False
        if getattr(module, "REUSED_WORKER_PROTOCOL", None) != 1:
            return False
        self.serve_attempts = getattr(module, "serve", None)
        return callable(self.serve_attempts)

    def preload(self, names: list[str]) -> int:
        count = 0
        threading.Thread.start = _defer_start  # type: ignore[method-assign,assignment]
        try:
            for name in names:
                if name in sys.modules:
                    continue
                try:
                    importlib.import_module(name)
                    count += 1
                except Exception:  # a module that cannot be imported here is simply not warmed
                    continue
        finally:
            threading.Thread.start = _original_start  # type: ignore[method-assign]
        return count

    @staticmethod
    def read_report(report_path: str) -> list[list[str]]:
        """The modules a child reported (read at once: the server removes its directory soon)."""
        try:
            with open(report_path) as lines:
                return [line.rstrip("\n").split("\t", 1) for line in lines]
        except OSError:
            return []

    def learn(self, entries: list[list[str]], work_dir: str) -> None:
        work = os.path.realpath(work_dir) + os.sep
        names: list[str] = []
        for entry in entries:
            if len(entry) != 2:
                continue
            name, path = entry
            if name in sys.modules or name == "__main__" or path in ("", "None"):
                continue
            real = os.path.realpath(path)
            if real.startswith(work) or not real.startswith(self.prefixes):
                continue
            names.append(name)
        if names and self.preload(names):
            _find_event_loops()
            self.send({"learned": [name for name in names if name in sys.modules]})
        else:
            self.learning = min(self.learning, 1)

    def serve(self) -> None:
        selector = selectors.DefaultSelector()
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        os.set_blocking(0, False)
        selector.register(0, selectors.EVENT_READ, "requests")
        selector.register(wake_read, selectors.EVENT_READ, "children")
        self.cleanup: tuple[selectors.BaseSelector, int, int] = (selector, wake_read, wake_write)
        while True:
            for key, _ in selector.select():
                if key.data == "children":
                    try:
                        while os.read(wake_read, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                elif not self.read_requests():
                    return
            self.reap()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            report = self.reports.pop(pid, None)
            entries = self.read_report(report[0]) if report is not None else []
            self.send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
            if report is not None:
                self.learn(entries, report[1])

    def read_requests(self) -> bool:
        try:
            chunk = os.read(0, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                self.handle(json.loads(line))
        return True

    def handle(self, request: dict[str, Any]) -> None:
        if request.get("op") != "launch":
            self.send({"id": request.get("id"), "error": f"unknown op {request.get('op')!r}"})
            return
        report = None
        if self.learning > 0 and not request.get("worker"):
            self.learning -= 1
            report = os.path.join(request["cwd"], ".zygote-imports")
            request["report"] = report
        sys.stdout.flush()
        sys.stderr.flush()
        # Keep the collector off the inherited objects: scanning them would copy their pages.
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as error:
            self.send({"id": request["id"], "error": f"fork failed: {error}"})
            return
        if pid == 0:
            raise _BecomeChild(request)
        if report is not None:
            self.reports[pid] = (report, request["cwd"])
        self.send({"id": request["id"], "pid": pid, "ticks": _start_ticks(pid)})


def _start_ticks(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


_event_loops: list[Any] = []
"""Event loops created while importing (found before ``gc.freeze``, which hides objects from ``gc``)."""


def _find_event_loops() -> None:
    for candidate in gc.get_objects():
        try:
            is_loop = asyncio.BaseEventLoop in type(candidate).__mro__
        except Exception:
            continue
        if is_loop and not any(candidate is known for known in _event_loops):
            _event_loops.append(candidate)


def _fresh_event_loops() -> None:
    """Give every idle event loop created before the fork its own selector and wake-up sockets."""
    for loop in _event_loops:
        try:
            if loop.is_closed() or loop.is_running():
                continue
            old = loop._selector
            if any(key.fd != loop._ssock.fileno() for key in old.get_map().values()):
                continue  # it watches other files too; leave it alone
            loop._selector = selectors.DefaultSelector()
            old.close()
            loop._ssock.close()
            loop._csock.close()
            loop._ssock, loop._csock = socket.socketpair()
            loop._ssock.setblocking(False)
            loop._csock.setblocking(False)
            loop._add_reader(loop._ssock.fileno(), loop._read_from_self)
        except Exception:
            continue


def _write_imports(path: str) -> None:
    try:
        with open(path, "w") as out:
            for name, module in list(sys.modules.items()):
                out.write(f"{name}\t{getattr(module, '__file__', None)}\n")
    except Exception:
        pass


def _become_child(zygote: Zygote, request: dict[str, Any]) -> None:
    selector, wake_read, wake_write = zygote.cleanup
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    selector.close()
    os.close(wake_read)
    os.close(wake_write)
    zygote.out.close()
    os.setsid()
    os.makedirs(request["cwd"], exist_ok=True)
    os.makedirs(os.path.dirname(request["log"]), exist_ok=True)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    sys.path.insert(0, os.path.dirname(sys.argv[0]))
    _fresh_event_loops()
    for thread in _deferred_threads:
        try:
            _original_start(thread)
        except RuntimeError:
            pass
    if request.get("report"):
        import atexit

        atexit.register(_write_imports, request["report"])
    assert zygote.entry is not None
    reused = request.get("worker")
    result: object
    try:
        if reused:
            assert zygote.serve_attempts is not None
            result = zygote.serve_attempts(reused["socket"], reused["id"], reused["token"])
        else:
            result = zygote.entry()
    except SystemExit as exit_:
        result = exit_.code
    except BaseException:
        traceback.print_exc()
        result = 1
    if result is None:
        code = 0
    elif isinstance(result, int):
        code = result
    else:
        print(result, file=sys.stderr)
        code = 1
    # Finish like the interpreter would (non-daemon threads, atexit handlers, flushed output), but
    # skip tearing down the hundreds of modules inherited from the zygote: that alone costs ~80 ms.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    zygote = Zygote(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
    try:
        preloaded = zygote.warm()
    except Exception as error:
        zygote.send({"ready": False, "error": f"{type(error).__name__}: {error}"})
        os._exit(1)
    zygote.send(
        {
            "ready": True,
            "entry": zygote.entry_value,
            "preloaded": preloaded,
            "modules": len(sys.modules),
            "threads": threading.active_count(),
            "reuse": zygote.reuse,
        }
    )
    request: dict[str, Any] | None = None
    try:
        zygote.serve()
    except _BecomeChild as child:
        request = child.request
    if request is not None:
        # Outside the except block: the task's own exceptions must not chain onto _BecomeChild
        # ("During handling of the above exception...") in its log.
        _become_child(zygote, request)
        return
    # The server went away: exit without the interpreter's shutdown (deferred threads never ran here).
    os._exit(0)


if __name__ == "__main__":
    main()
