"""Type-engine and storage throughput, ours next to PyPI flyte 2.12.1 and ``shutil.copyfile``.

Measures (best of ``--repeat``):
  (a) encode + decode of a list of 10,000 dataclasses through ``TypeEngine``;
  (b) a 100 MB file ``flyte.storage.put`` then ``flyte.storage.get`` on the local filesystem,
      with ``shutil.copyfile`` of the same file twice as the baseline.

Usage: python bench/types_throughput.py [--n 10000] [--mb 100] [--repeat 3] [--no-reference]
The reference venv is taken from $FLYTE_REFERENCE_PYTHON or created once (see bench/_reference.py).
Targets: no slower than the reference on either; file transfer within 2x of shutil.copyfile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r"""
import asyncio, dataclasses, json, os, sys, time
n, mb, repeat, workdir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
import flyte, flyte.storage
from flyte.types import TypeEngine


@dataclasses.dataclass
class Record:
    id: int
    score: float
    name: str
    tags: list[str]


async def main():
    values = [Record(i, i / 3, f"name-{i}", ["a", "b"]) for i in range(n)]
    t = list[Record]
    lt = TypeEngine.to_literal_type(t)
    await TypeEngine.to_python_value(await TypeEngine.to_literal(values[:10], t, lt), t)  # warm up
    best = {"encode": [], "decode": [], "put": [], "get": []}
    source = os.path.join(workdir, "source.bin")
    for r in range(repeat):
        start = time.perf_counter()
        literal = await TypeEngine.to_literal(values, t, lt)
        best["encode"].append(time.perf_counter() - start)
        start = time.perf_counter()
        back = await TypeEngine.to_python_value(literal, t)
        best["decode"].append(time.perf_counter() - start)
        assert back == values
        remote = os.path.join(workdir, f"store-{r}", "uploaded.bin")
        start = time.perf_counter()
        await flyte.storage.put(source, remote)
        best["put"].append(time.perf_counter() - start)
        local = os.path.join(workdir, f"local-{r}", "downloaded.bin")
        start = time.perf_counter()
        await flyte.storage.get(remote, local)
        best["get"].append(time.perf_counter() - start)
        assert os.path.getsize(local) == mb * 1024 * 1024
        os.remove(remote)
        os.remove(local)
    print(json.dumps({k: min(v) for k, v in best.items()}))

flyte.init()
asyncio.run(main())
"""


def _run(python: str, n: int, mb: int, repeat: int, workdir: str) -> dict[str, float] | str:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [python, "-c", WORKER, str(n), str(mb), str(repeat), workdir], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _copyfile_baseline(source: str, workdir: str, repeat: int) -> float:
    best = float("inf")
    for r in range(repeat):
        first, second = os.path.join(workdir, f"copy-a-{r}"), os.path.join(workdir, f"copy-b-{r}")
        start = time.perf_counter()
        shutil.copyfile(source, first)
        shutil.copyfile(first, second)
        best = min(best, time.perf_counter() - start)
        os.remove(first)
        os.remove(second)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()

    import importlib.util

    spec = importlib.util.spec_from_file_location("_reference", Path(__file__).resolve().parent / "_reference.py")
    assert spec is not None and spec.loader is not None
    reference_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference_module)
    reference_python = reference_module.reference_python

    with tempfile.TemporaryDirectory(prefix="flyte-bench-") as workdir:
        source = os.path.join(workdir, "source.bin")
        with open(source, "wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1024 * 1024))
        baseline = _copyfile_baseline(source, workdir, args.repeat)
        rows: dict[str, dict[str, float] | str] = {"ours": _run(sys.executable, args.n, args.mb, args.repeat, workdir)}
        if not args.no_reference:
            reference = reference_python()
            rows["flyte 2.12.1"] = (
                _run(reference, args.n, args.mb, args.repeat, workdir) if reference else "no reference venv"
            )

    megabytes = args.mb
    print(f"\n{args.n:,} dataclasses (list[Record]) and a {megabytes} MB file, best of {args.repeat}\n")
    header = f"{'':<14}{'encode s':>10}{'decode s':>10}{'items/s':>12}{'put s':>8}{'get s':>8}{'put+get MB/s':>14}"
    print(header)
    print("-" * len(header))
    for label, row in rows.items():
        if isinstance(row, str):
            print(f"{label:<14}{row}")
            continue
        codec = row["encode"] + row["decode"]
        transfer = row["put"] + row["get"]
        print(
            f"{label:<14}{row['encode']:>10.3f}{row['decode']:>10.3f}{args.n / codec:>12,.0f}"
            f"{row['put']:>8.3f}{row['get']:>8.3f}{2 * megabytes / transfer:>14,.0f}"
        )
    print(f"{'copyfile x2':<14}{'':>10}{'':>10}{'':>12}{'':>8}{'':>8}{2 * megabytes / baseline:>14,.0f}")
    ours = rows["ours"]
    if isinstance(ours, dict):
        ratio = (ours["put"] + ours["get"]) / baseline
        print(f"\nours put+get vs two shutil.copyfile: {ratio:.2f}x the time (target <= 2x)")
        reference_row = rows.get("flyte 2.12.1")
        if isinstance(reference_row, dict):
            codec_speedup = (reference_row["encode"] + reference_row["decode"]) / (ours["encode"] + ours["decode"])
            transfer_speedup = (reference_row["put"] + reference_row["get"]) / (ours["put"] + ours["get"])
            print(f"speed-up over flyte 2.12.1: dataclasses {codec_speedup:.2f}x, file {transfer_speedup:.2f}x")


if __name__ == "__main__":
    main()
