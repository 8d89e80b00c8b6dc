"""A program run against an auth-enabled server: ``python auth_wf.py '<json>'``; prints ``RESULT <json>``.

``{"mode": "api_key", "api_key": ..., "ca": ...}`` logs in with ``flyte.init_from_api_key``;
``{"mode": "config", "config": path}`` with a config file (``admin.authType: ClientSecret``);
``{"mode": "env"}`` with ``FLYTE_API_KEY`` from the environment.
"""

import json
import sys

import flyte

env = flyte.TaskEnvironment(name="auth_wf")


@env.task
async def double(x: int) -> int:
    return 2 * x


@env.task
async def main(x: int) -> int:
    return await double(x) + 1


if __name__ == "__main__":
    command = json.loads(sys.argv[1])
    scope = {"project": "flytesnacks", "domain": "development"}
    if command["mode"] == "api_key":
        flyte.init_from_api_key(api_key=command["api_key"], ca_cert_file_path=command.get("ca"), **scope)
    elif command["mode"] == "env":
        flyte.init_from_api_key(**scope)
    else:
        flyte.init_from_config(command["config"], **scope)
    run = flyte.run(main, x=5)
    run.wait(quiet=True)
    print("RESULT " + json.dumps({"phase": str(run.phase), "outputs": list(run.outputs())}), flush=True)
