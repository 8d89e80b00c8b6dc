"""Run one task of ``compat_wf`` with the PyPI SDK against a server; prints ``RESULT <json>``.

``python pypi_driver.py '{"endpoint": ..., "project": ..., "domain": ..., "task": ..., "inputs": {...}}'``
"""

import dataclasses
import json
import sys

import compat_wf

import flyte


def plain(value):
    if dataclasses.is_dataclass(value):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project=command["project"], domain=command["domain"])
    run = flyte.run(getattr(compat_wf, command["task"]), **command.get("inputs", {}))
    run.wait(quiet=True)
    result = {"phase": str(run.phase).rsplit(".", 1)[-1].upper()}
    try:
        run.raise_for_status()
    except Exception as error:  # the run's failure is part of the result
        result["error_code"] = getattr(error, "code", type(error).__name__)
        return result
    result["outputs"] = [plain(value) for value in run.outputs()]
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
