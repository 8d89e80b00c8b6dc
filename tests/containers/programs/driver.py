"""Drive one container-test task with whichever SDK runs this file: ``driver.py JSON`` prints ``RESULT {...}``."""

import json
import sys

import ct_wf

import flyte

request = json.loads(sys.argv[1])
flyte.init(endpoint=request["endpoint"], insecure=True, project="flytesnacks", domain="development")
task = getattr(ct_wf, request["task"])
run = flyte.run(task, **request.get("inputs", {}))
result = {"run": run.name}
if request.get("wait", True):
    run.wait()
    result["phase"] = str(run.phase).rsplit(".", 1)[-1]  # "ActionPhase.X" (PyPI) or "X"
    try:
        outputs = run.outputs()
        result["values"] = list(outputs)
    except Exception as error:  # a failed run has none
        result["error"] = repr(error)
print("RESULT " + json.dumps(result, default=str), flush=True)
