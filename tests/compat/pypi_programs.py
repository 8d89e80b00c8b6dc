"""Run compatibility programs with PyPI ``flyte`` 2.12.1 against a server; prints ``RESULT <name> <json>``.

``python pypi_programs.py ENDPOINT PROJECT DOMAIN NAME...``, in the project directory (the
programs' copy), with the reference venv's interpreter. Each program runs on its own, one after
the other; a program that fails is a result, not a crash of the driver.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.getcwd())

import importlib

from program_runner import run_program

import flyte


def main(endpoint: str, project: str, domain: str, names: list[str]) -> None:
    if "+ours" in flyte.__version__:
        sys.exit(f"not the reference SDK: flyte {flyte.__version__} from {flyte.__file__}")
    flyte.init(endpoint=endpoint, insecure=True, project=project, domain=domain)
    for name in names:
        try:
            module = importlib.import_module(name)
            outcome = run_program(flyte, module)
        except Exception as error:  # an import error is the program's outcome too
            outcome = {"phase": "FAILED", "error": type(error).__name__, "detail": str(error)[:1500]}
        print(f"RESULT {name} {json.dumps(outcome)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
