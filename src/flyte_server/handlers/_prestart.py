"""Start an attempt's runtime while its cluster is still starting: ``python _prestart.py READY MODULES -- ARGV``.

Run with the worker Python in place of the attempt's ``a0`` command line, it imports the slow
modules (the runtime's entry module, ``ray`` or ``distributed``, the plugin) while the server starts
the cluster, waits for the server to write ``READY`` (``ok``, or why the cluster did not start),
then runs ``ARGV[0]`` (the ``a0`` script) in this process with ``ARGV`` as its command line. The
task's first line so runs as soon as the cluster is ready, not an interpreter start later. This file
imports nothing of ``flyte`` itself: the worker Python may be any Flyte 2 runtime.
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
import time

_WAIT_LIMIT_SECONDS = 900.0


def main(argv: list[str]) -> int:
    ready, modules = argv[1], argv[2]
    command = argv[argv.index("--") + 1 :]
    for name in filter(None, modules.split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # the task imports it again and reports what is wrong
            continue
    deadline = time.monotonic() + _WAIT_LIMIT_SECONDS
    while not os.path.exists(ready):
        if time.monotonic() > deadline:
            print("the task's cluster was not ready in time", file=sys.stderr, flush=True)
            return 1
        time.sleep(0.02)
    with open(ready) as marker:
        status = marker.read()
    if status != "ok":
        print(f"the task's cluster did not start: {status}", file=sys.stderr, flush=True)
        return 1
    sys.argv = command
    runpy.run_path(command[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
