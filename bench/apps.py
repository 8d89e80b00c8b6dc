"""Apps through the server's proxy: cold start (scaled to zero → first response) and added latency.

Starts a server, deploys a small FastAPI app with ``AppService.Create`` (what both SDKs send:
a container command the server runs in its worker environment), then

* cold start: waits until the app has scaled to zero (its idle timeout is 2 s), then times one
  GET through ``/apps/<name>/`` until the response arrives; repeated ``--cold`` times;
* latency: GETs the same small JSON endpoint directly on the replica's port and through the
  proxy, alternating, on one keep-alive connection each, and prints p50/p90 of both and the
  difference at p50 (target: at most 1 ms added).

    python bench/apps.py [--requests N] [--cold N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from flyteidl2.app import app_definition_pb2 as definition
from flyteidl2.app import app_payload_pb2 as pb
from flyteidl2.app.app_service_connect import AppServiceClient

sys.path.insert(0, str(Path(__file__).parent))
from _server import start_server, stop_server

APP = textwrap.dedent(
    """
    import os
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/")
    def root():
        return {"port": int(os.environ["PORT"]), "pid": os.getpid()}
    """
)

RUNNER = (
    "import os, sys, uvicorn; sys.path.insert(0, {dir!r}); "
    "uvicorn.run('bench_app:api', host='127.0.0.1', port=int(os.environ['PORT']), log_level='warning')"
)


def _app(name: str, app_dir: Path, min_replicas: int) -> definition.App:
    app = definition.App(
        metadata=definition.Meta(id=definition.Identifier(project="flytesnacks", domain="development", name=name)),
    )
    spec = app.spec
    spec.container.args.extend(["python", "-c", RUNNER.format(dir=str(app_dir))])
    spec.autoscaling.replicas.min = min_replicas
    spec.autoscaling.replicas.max = 1
    spec.autoscaling.scaledown_period.seconds = 2
    spec.desired_state = definition.Spec.DESIRED_STATE_ACTIVE
    return app


async def _replicas(client: AppServiceClient, name: str) -> int:
    ident = definition.Identifier(project="flytesnacks", domain="development", name=name)
    return int((await client.get(pb.GetRequest(app_id=ident))).app.status.current_replicas)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(requests: int, cold: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-apps-") as tmp:
        root = Path(tmp)
        app_dir = root / "app"
        app_dir.mkdir()
        (app_dir / "bench_app.py").write_text(APP)
        server, port = start_server(root, sys.executable, 4)
        base = f"http://127.0.0.1:{port}"
        try:
            async with AppServiceClient(base) as client:
                await client.create(pb.CreateRequest(app=_app("bench-cold", app_dir, 0)))
                await client.create(pb.CreateRequest(app=_app("bench-warm", app_dir, 1)))
                colds = []
                async with httpx.AsyncClient(timeout=120) as http:
                    for _ in range(cold):
                        while await _replicas(client, "bench-cold") != 0:
                            await asyncio.sleep(0.2)
                        await http.aclose()
                        http = httpx.AsyncClient(timeout=120)
                        started = time.perf_counter()
                        answer = await http.get(f"{base}/apps/bench-cold/")
                        colds.append(time.perf_counter() - started)
                        answer.raise_for_status()
                    await http.aclose()
                print(
                    f"cold start through the proxy (scaled to zero -> first response), {cold} runs: "
                    f"median {statistics.median(colds):.2f} s, min {min(colds):.2f} s, max {max(colds):.2f} s"
                )
            with httpx.Client(timeout=60) as proxied, httpx.Client(timeout=60) as direct:
                replica_port = proxied.get(f"{base}/apps/bench-warm/").json()["port"]
                urls = (f"{base}/apps/bench-warm/", f"http://127.0.0.1:{replica_port}/")
                for _ in range(200):  # warm both paths
                    proxied.get(urls[0])
                    direct.get(urls[1])
                via, straight = [], []
                for _ in range(requests):
                    started = time.perf_counter()
                    proxied.get(urls[0])
                    via.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    direct.get(urls[1])
                    straight.append((time.perf_counter() - started) * 1000)
            p50_via, p50_direct = _percentile(via, 0.5), _percentile(straight, 0.5)
            print(
                f"latency over {requests} requests: "
                f"direct p50 {p50_direct:.2f} ms p90 {_percentile(straight, 0.9):.2f} ms; "
                f"proxied p50 {p50_via:.2f} ms p90 {_percentile(via, 0.9):.2f} ms; "
                f"added at p50 {p50_via - p50_direct:.2f} ms (target <= 1 ms)"
            )
        finally:
            stop_server(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cold", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.cold))
