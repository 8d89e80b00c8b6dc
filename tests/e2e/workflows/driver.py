"""Drive a Flyte server with the PyPI SDK: ``python driver.py '<json command>'``; prints ``RESULT <json>``.

Commands: ``{"op": "run", "task": name, "inputs": {...}, "wait": true, "name": optional, ...}``,
``{"op": "deploy"}``, ``{"op": "wait", "run": name}``, ``{"op": "abort", "run": name}``.
"""

import json
import sys

import e2e_wf

import flyte
import flyte.remote


def _outputs(run):
    try:
        outputs = run.outputs()
    except Exception as error:  # a failed run has no outputs; the phase says why
        return {"error": f"{type(error).__name__}: {error}"}
    return {"values": [value for value in outputs]}


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project=command["project"], domain=command["domain"])
    op = command["op"]
    if op == "deploy":
        deployments = flyte.deploy(e2e_wf.env)
        return {"deployed": [str(deployment) for deployment in deployments]}
    if op == "run":
        task = getattr(e2e_wf, command["task"])
        context = {}
        for key in ("name", "overwrite_cache", "env_vars", "max_action_concurrency"):
            if key in command:
                context[key] = command[key]
        run = flyte.with_runcontext(**context).run(task, **command.get("inputs", {}))
        result = {"run": run.name}
        if command.get("wait", True):
            run.wait(quiet=True)
            result["phase"] = str(run.phase)
            result.update(_outputs(run))
        return result
    if op == "wait":
        run = flyte.remote.Run.get(command["run"])
        run.wait(quiet=True)
        result = {"run": run.name, "phase": str(run.phase)}
        result.update(_outputs(run))
        return result
    if op == "abort":
        run = flyte.remote.Run.get(command["run"])
        run.abort()
        return {"run": run.name}
    raise SystemExit(f"unknown op {op!r}")


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
