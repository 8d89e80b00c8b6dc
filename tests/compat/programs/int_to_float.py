"""An int where a float is declared (argument and default) is taken as a float.

Issue 10 asks for this coercion; PyPI ``flyte`` 2.12.1 itself refuses an ``int`` for a ``float``
(``TypeError: Type conversion failed for variable 'x'``), at the run and between tasks alike, so
with PyPI's client and runtime this program fails: ours is the more lenient here, on purpose.
"""

import flyte

env = flyte.TaskEnvironment(name="compat_float")


@env.task
def scale(x: float, factor: float = 2) -> float:
    return x * factor


@env.task
def main(x: float = 1) -> float:
    return scale(x=3) + x


INPUTS = {"x": 4}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [10.0]}
EXPECTED_PYPI = {"phase": "FAILED", "error": "TypeError"}
