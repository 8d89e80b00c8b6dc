"""A task with a report: ``flyte.report`` calls, sync and ``.aio``, and tabs."""

import flyte
import flyte.report

env = flyte.TaskEnvironment(name="compat_report")


@env.task(report=True)
async def main(steps: int = 3) -> int:
    await flyte.report.log.aio("<h1>Progress</h1>", do_flush=True)
    for step in range(steps):
        flyte.report.log(f"<p>step {step}</p>")
    await flyte.report.flush.aio()
    flyte.report.get_tab("Summary").replace(f"<p>{steps} steps</p>")
    await flyte.report.replace.aio("<h1>Done</h1>")
    flyte.report.flush()
    return steps


INPUTS = {"steps": 3}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [3]}
