"""Deploy with the PyPI SDK: ``python driver_ref.py '<json>'``; prints ``RESULT <json>``."""

import json
import sys

import apps_ref

import flyte
import flyte.remote


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project=command["project"], domain=command["domain"])
    op = command["op"]
    if op == "deploy":
        env = getattr(apps_ref, command["app"])
        deployed = flyte.deploy(env)
        app = flyte.remote.App.get(env.name)
        return {"deployed": len(deployed), "endpoint": app.endpoint, "revision": app.revision}
    if op == "run":
        run = flyte.run(apps_ref.make_greeting, who=command["who"])
        run.wait(quiet=True)
        return {"run": run.name, "outputs": [str(v) for v in run.outputs()]}
    if op == "setup":
        endpoints = {}
        for name in ("hello", "lazy"):
            env = getattr(apps_ref, name)
            flyte.deploy(env)
            endpoints[name] = flyte.remote.App.get(env.name).endpoint
        run = flyte.run(apps_ref.make_greeting, who=command["who"])
        run.wait(quiet=True)
        greeter = apps_ref.greeter(run.name)
        flyte.deploy(greeter)
        endpoints["greeter"] = flyte.remote.App.get(greeter.name).endpoint
        return {**endpoints, "run": run.name, "outputs": [str(v) for v in run.outputs()]}
    if op == "deploy_greeter":
        env = apps_ref.greeter(command["run"])
        flyte.deploy(env)
        return {"endpoint": flyte.remote.App.get(env.name).endpoint}
    raise SystemExit(f"unknown op {op!r}")


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
