"""Drive a server with whichever SDK runs this: ``python driver.py '<json>'``; prints ``RESULT <json>``.

``{"op": "run", "task": NAME, "inputs": {...}, "wait": bool}``, ``{"op": "wait"|"abort", "run": NAME}``.
"""

import json
import sys

import plugin_wf

import flyte
import flyte.remote


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project=command["project"], domain=command["domain"])
    op = command["op"]
    if op == "run":
        run = flyte.run(getattr(plugin_wf, command["task"]), **command.get("inputs", {}))
        result = {"run": run.name}
        if not command.get("wait", True):
            return result
    else:
        run = flyte.remote.Run.get(command["run"])
        result = {"run": run.name}
        if op == "abort":
            run.abort()
            return result
    run.wait(quiet=True)
    result["phase"] = str(run.phase)
    try:
        result["values"] = list(run.outputs())
    except Exception as error:  # a failed run has no outputs; the phase says why
        result["error"] = f"{type(error).__name__}: {error}"
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1])), default=str), flush=True)
