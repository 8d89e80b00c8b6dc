"""Run one task of ``surface_wf`` with whatever ``flyte`` this interpreter has (the PyPI SDK in the
tests): ``python pypi_driver.py '<json>'`` prints ``RESULT {"phase": ..., "values": [...]}``."""

from __future__ import annotations

import json
import sys

import flyte


def main(request: dict) -> dict:
    flyte.init(endpoint=request["endpoint"], insecure=True, project=request["project"], domain=request["domain"])
    import surface_wf

    run = flyte.run(getattr(surface_wf, request["task"]), **request["inputs"])
    run.wait(quiet=True)
    result = {"run": run.name, "phase": str(run.phase)}
    try:
        result["values"] = list(run.outputs())
    except Exception as error:  # a failed run has no outputs
        result["error"] = repr(error)
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
