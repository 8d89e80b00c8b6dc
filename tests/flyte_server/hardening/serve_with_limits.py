"""Run the control plane in this process with the limits given on the command line (for the hardening tests).

Prints one line, ``port=<N>``, once it serves. Usage:
``python serve_with_limits.py DATA_DIR [--db URL] [--engine] [--max-request-bytes N] [--body-timeout S] ...``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flyte_server.config import ServerConfig
from flyte_server.limits import ServerLimits
from flyte_server.logging import configure_logging
from flyte_server.server import ServerInfo, run_server, serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--db", default=None)
    parser.add_argument("--engine", action="store_true")
    parser.add_argument("--max-request-bytes", type=int, default=ServerLimits().max_request_bytes)
    parser.add_argument("--header-timeout", type=float, default=ServerLimits().header_timeout)
    parser.add_argument("--body-timeout", type=float, default=ServerLimits().body_timeout)
    parser.add_argument("--max-connections", type=int, default=ServerLimits().max_connections)
    args = parser.parse_args()
    configure_logging("info", "text")
    limits = ServerLimits(
        max_request_bytes=args.max_request_bytes,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
    )
    config = ServerConfig(port=0, data_dir=args.data_dir, db=args.db, workers=2, limits=limits)

    def ready(info: ServerInfo) -> None:
        print(f"port={info.port}", flush=True)

    run_server(serve(config, on_ready=ready, with_engine=args.engine))


if __name__ == "__main__":
    sys.exit(main())
