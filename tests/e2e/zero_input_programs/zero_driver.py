"""Deploy and run the zero-input tasks with whichever ``flyte`` runs this; prints ``RESULT <json>``.

``python zero_driver.py ENDPOINT PROJECT DOMAIN``, in this directory (or a copy of it). Works
with our SDK and with PyPI ``flyte`` 2.12.1 alike: it uses only their shared public API.
"""

import json
import sys

import zero_inputs

import flyte
import flyte.remote


def outcome(run):
    run.wait(quiet=True)
    phase = str(run.phase).rsplit(".", 1)[-1].upper()
    try:
        return {"phase": phase, "outputs": list(run.outputs())}
    except Exception as error:  # a failed run has no outputs; say why
        return {"phase": phase, "error": f"{type(error).__name__}: {error}"}


def main(endpoint, project, domain):
    flyte.init(endpoint=endpoint, insecure=True, project=project, domain=domain)
    result = {}
    flyte.deploy(zero_inputs.env)
    for name in ("hello", "parent"):
        deployed = flyte.remote.Task.get(f"zero_inputs.{name}", auto_version="latest")
        result[f"deployed {name}"] = outcome(flyte.run(deployed))
    result["run parent"] = outcome(flyte.run(zero_inputs.parent))
    result["run quiet"] = outcome(flyte.run(zero_inputs.quiet))
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(*sys.argv[1:4])), flush=True)
