"""Drive a server with PyPI flyte (or ours): ``python driver.py '<json>'``; prints ``RESULT <json>``.

Ops: ``run`` (task, inputs, notify; no wait), ``runs`` (a list of those), ``wait`` (run),
``signal`` (run, name, value), ``conditions`` (run), ``recover`` (run).
"""

import json
import sys
import time

import hitl_wf

import flyte
import flyte.remote


def _notifications(settings):
    """Email on success and failure, a webhook on failure, Slack on success (flyte.notify of either SDK)."""
    from flyte import notify
    from flyte.models import ActionPhase

    return (
        notify.Email(on_phase=(ActionPhase.SUCCEEDED, ActionPhase.FAILED), recipients=(settings["email"],)),
        notify.Webhook(
            on_phase=ActionPhase.FAILED,
            url=settings["url"] + "/webhook",
            body={"run": "{{.Run.Name}}", "phase": "{{.Phase}}", "error": "{{.Error}}"},
        ),
        notify.Slack(
            on_phase=ActionPhase.SUCCEEDED, webhook_url=settings["url"] + "/slack", message="{{.Run.Name}} done"
        ),
    )


def _start(command):
    runner = flyte
    if "notify" in command:
        runner = flyte.with_runcontext(notifications=_notifications(command["notify"]))
    return runner.run(getattr(hitl_wf, command["task"]), **command.get("inputs", {})).name


def main(command):
    flyte.init(endpoint=command["endpoint"], insecure=True, project=command["project"], domain=command["domain"])
    op = command["op"]
    if op == "run":
        return {"run": _start(command)}
    if op == "runs":
        return {"runs": [_start(item) for item in command["runs"]]}
    if op == "wait":
        run = flyte.remote.Run.get(command["run"])
        run.wait(quiet=True)
        try:
            values = list(run.outputs())
        except Exception as error:
            values = [f"{type(error).__name__}: {error}"]
        return {"phase": str(run.phase), "values": values}
    if op == "conditions":
        deadline = time.monotonic() + command.get("timeout", 60)
        while True:
            found = [c.name for c in flyte.remote.Condition.listall(run_name=command["run"])]
            if found or time.monotonic() > deadline:
                return {"conditions": found}
            time.sleep(0.3)
    if op == "recover":
        run = flyte.rerun(command["run"], recover=True)
        return {"run": run.name}
    if op == "signal":
        deadline = time.monotonic() + 60
        condition = None
        while condition is None and time.monotonic() < deadline:
            condition = flyte.remote.Condition.get(command["name"], run_name=command["run"])
            if condition is None:
                time.sleep(0.3)
        condition.signal(command["value"])
        return {"signalled": condition.name}
    raise SystemExit(f"unknown op {op!r}")


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
