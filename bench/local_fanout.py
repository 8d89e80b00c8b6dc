"""Local-mode overhead: a root task fanning out N trivial async children with asyncio.gather.

Prints, for ours and (when available) PyPI flyte 2.12.1 side by side:
  (a) uncached run, (b) first run with a cached child (writes the cache),
  (c) second run (all cache hits), and the time of `import flyte`.

Usage: python bench/local_fanout.py [--n 1000] [--repeat 3] [--no-reference]
The reference venv is taken from $FLYTE_REFERENCE_PYTHON or created under .bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

WORKER = r"""
import asyncio, json, os, sys, time
n, repeat = int(sys.argv[1]), int(sys.argv[2])
import flyte

env = flyte.TaskEnvironment(name="bench")

@env.task
async def child(x: int) -> int:
    return x + 1

@env.task(cache="auto")
async def cached_child(x: int) -> int:
    return x + 1

@env.task
async def root(n: int) -> int:
    return sum(await asyncio.gather(*(child(i) for i in range(n))))

@env.task
async def cached_root(n: int, salt: int) -> int:
    return sum(await asyncio.gather(*(cached_child(i * 1000003 + salt) for i in range(n))))

flyte.init()
flyte.run(root, n=10)  # warm up imports
results = {"uncached": [], "cache_write": [], "cache_hit": []}
for r in range(repeat):
    def timed(key, task, **inputs):
        t = time.perf_counter()
        flyte.run(task, **inputs)
        results[key].append(time.perf_counter() - t)
    timed("uncached", root, n=n)
    salt = int(time.time() * 1000) % 1000003 + r
    timed("cache_write", cached_root, n=n, salt=salt)
    timed("cache_hit", cached_root, n=n, salt=salt)
print(json.dumps({k: min(v) for k, v in results.items()}))
"""

IMPORT = "import time; t = time.perf_counter(); import flyte; print(time.perf_counter() - t)"


def measure(python: str, n: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        environment = {**os.environ, "HOME": home, "FLYTE_LOCAL_CACHE_DIR": os.path.join(home, "cache")}
        environment.pop("PYTHONPATH", None)
        script = Path(home) / "fanout_worker.py"
        script.write_text(WORKER)
        out = subprocess.run(
            [python, str(script), str(n), str(repeat)], capture_output=True, text=True, env=environment, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"{python} failed:\n{out.stderr[-3000:]}")
        figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        imports = []
        for _ in range(5):
            result = subprocess.run([python, "-c", IMPORT], capture_output=True, text=True, env=environment, check=True)
            imports.append(float(result.stdout.strip().splitlines()[-1]))
        figures["import"] = min(imports)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()

    ours = measure(sys.executable, args.n, args.repeat)
    reference = None
    if not args.no_reference:
        from _reference import reference_python

        python = reference_python()
        if python:
            reference = measure(python, args.n, args.repeat)

    rows = [
        ("(a) uncached fan-out", "uncached"),
        ("(b) cached, first run", "cache_write"),
        ("(c) cached, all hits", "cache_hit"),
        ("import flyte", "import"),
    ]
    print(f"local fan-out of N={args.n} trivial async children (best of {args.repeat})")
    print(f"{'':24} {'ours':>10} {'flyte 2.12.1':>14} {'speed-up':>9}")
    for label, key in rows:
        ref = f"{reference[key] * 1000:11.1f} ms" if reference else "           n/a"
        ratio = f"{reference[key] / ours[key]:8.1f}x" if reference else "      n/a"
        print(f"{label:24} {ours[key] * 1000:7.1f} ms {ref} {ratio}")


if __name__ == "__main__":
    main()
