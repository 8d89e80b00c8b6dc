"""Run one task of images_app on a server and print ``RESULT {json}`` (works with both SDKs)."""

import json
import sys
import time

import flyte

sys.path.insert(0, ".")
import images_app

request = json.loads(sys.argv[1])
flyte.init(endpoint=request["endpoint"], insecure=True, project="flytesnacks", domain="development")
started = time.monotonic()
run = flyte.run(getattr(images_app, request["task"]), **request.get("inputs", {}))
run.wait()
result = {"phase": str(run.phase).rsplit(".", 1)[-1], "seconds": time.monotonic() - started, "url": run.url}
try:
    run.raise_for_status()
    result["output"] = run.outputs()[0]
except Exception as error:
    result["error"] = str(error)
print("RESULT " + json.dumps(result), flush=True)
