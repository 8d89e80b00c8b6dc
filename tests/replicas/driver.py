"""Drive a server with this SDK: ``python driver.py '<json command>'``; prints ``RESULT <json>``.

Commands: ``{"op": "run", "task": name, "inputs": {...}, "wait": bool}``, ``{"op": "wait", "run": name}``,
``{"op": "abort", "run": name}``, ``{"op": "trigger", "name": name, "marker_dir": path}``.
"""

import json
import sys

import replica_wf

import flyte
import flyte.remote


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project="flytesnacks", domain="development")
    op = command["op"]
    if op == "trigger":  # deploy the tasks, then an active trigger that runs stamp() every hour
        flyte.deploy(replica_wf.env)
        spec = flyte.Trigger(command["name"], flyte.FixedRate(60), inputs={"marker_dir": command["marker_dir"]})
        flyte.remote.Trigger.create(spec, "replicas.stamp")
        return {}
    if op == "run":
        run = flyte.run(getattr(replica_wf, command["task"]), **command.get("inputs", {}))
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
    run = flyte.remote.Run.get(run.name)
    result["phase"] = str(run.phase).rsplit(".", 1)[-1]
    if result["phase"] == "SUCCEEDED":
        result["values"] = list(run.outputs())
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
