"""Record every request a server receives, with its raw protovalidate violations (the leniency audit's tool).

Not a test: run it in place of ``flyte start server`` and point a client at it::

    CAPTURE_DIR=/tmp/capture python tests/compat/wire_capture.py start server --port 0 --data-dir /tmp/d

Each request's bytes go to ``<CAPTURE_DIR>/<n>.bin`` and a line to ``requests.jsonl`` (message
type, every violation before any relaxation, whether the server relaxes it, and the message as
text). ``python tests/compat/wire_capture.py --summary DIR`` prints, per message type, how many
arrived and which rules they broke. ``docs/protocol-leniency.md`` was written from these records.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any


def _install(out: Path) -> None:
    from google.protobuf import text_format
    from google.protobuf.message import Message

    from flyte_server import validation

    out.mkdir(parents=True, exist_ok=True)
    log = (out / "requests.jsonl").open("a")
    lock = threading.Lock()
    count = [0]
    check = validation.ValidationInterceptor._check

    def recording_check(self: Any, request: Any) -> None:
        if isinstance(request, Message):
            violations = [
                {
                    "path": validation._field_path(violation),
                    "rule": violation.proto.rule_id,
                    "message": violation.proto.message,
                    "relaxed": validation._ignored(violation, request.DESCRIPTOR),
                }
                for violation in self._validator.collect_violations(request)
            ]
            with lock:
                count[0] += 1
                (out / f"{count[0]:05d}.bin").write_bytes(request.SerializeToString())
                record = {
                    "n": count[0],
                    "type": request.DESCRIPTOR.full_name,
                    "violations": violations,
                    "text": text_format.MessageToString(request, as_one_line=True)[:6000],
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
        check(self, request)

    validation.ValidationInterceptor._check = recording_check  # type: ignore[method-assign]


def _summary(directory: Path) -> None:
    counts: collections.Counter[str] = collections.Counter()
    broken: dict[str, set[tuple[str, str, bool]]] = collections.defaultdict(set)
    for line in (directory / "requests.jsonl").read_text().splitlines():
        record = json.loads(line)
        counts[record["type"]] += 1
        for violation in record["violations"]:
            broken[record["type"]].add((violation["path"], violation["rule"], violation["relaxed"]))
    for name, count in sorted(counts.items()):
        described = [f"{path} {rule}{' (relaxed)' if relaxed else ''}" for path, rule, relaxed in sorted(broken[name])]
        rules = ", ".join(described)
        print(f"{count:5d} {name}  {rules or '-'}")


def main() -> None:
    if sys.argv[1:2] == ["--summary"]:
        _summary(Path(sys.argv[2]))
        return
    _install(Path(os.environ["CAPTURE_DIR"]))
    from flyte.cli.main import main as flyte_main

    sys.argv = ["flyte", *sys.argv[1:]]
    flyte_main()


if __name__ == "__main__":
    main()
