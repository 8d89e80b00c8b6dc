"""Tasks cannot reach the control plane's secrets; uploads and URIs are bound to their owner (docs/isolation.md).

The tests run as root, so the server (started without ``--worker-user``) runs its workers as the
unprivileged ``flyte-worker`` user, as it would in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2
from flyteidl2.task import task_definition_pb2
from flyteidl2.workflow import queue_service_pb2, run_definition_pb2, run_service_pb2

import flyte
import flyte.remote
from flyte.cli._loader import load_module

from .helpers import DOMAIN, PROJECT, Rpc, ServerProcess, make_rpc

PROGRAMS = Path(__file__).parent / "isolation_programs"
SENTINEL = f"isolation-sentinel-{uuid.uuid4().hex}"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the worker user is switched only by a server running as root"
)


@pytest.fixture(scope="module")
def isolated(e2e_root: Path) -> Iterator[ServerProcess]:
    """A server with the default worker user and credentials in its environment that must not leak."""
    server = ServerProcess(
        data_dir=e2e_root / "isolated",
        worker_python=sys.executable,
        worker_user=None,
        extra_env={"AWS_SECRET_ACCESS_KEY": SENTINEL, "FLYTE_SERVER_DB_PASSWORD": SENTINEL},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def rpc(isolated: ServerProcess) -> AsyncIterator[Rpc]:
    clients = make_rpc(isolated.base_url)
    yield clients
    await clients.close()


@pytest.fixture
def wf(
    isolated: ServerProcess, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    project = tmp_path_factory.mktemp("isolation") / "project"
    shutil.copytree(PROGRAMS, project, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    flyte.init(endpoint=isolated.endpoint, insecure=True, project=PROJECT, domain=DOMAIN)
    return load_module(project / "probe_wf.py")


def test_a_task_finds_nothing_of_the_servers_key_database_or_environment(
    isolated: ServerProcess, wf: ModuleType
) -> None:
    assert isolated.process is not None
    run = flyte.run(wf.probe, data_dir=str(isolated.data_dir), server_pid=isolated.process.pid, sentinel=SENTINEL)
    run.wait(quiet=True)
    assert run.phase == "SUCCEEDED", f"{run.phase}\n{isolated.log_tail(40)}"
    found = json.loads(next(iter(run.outputs())))

    assert found["uid"] != 0, "the task ran as root"
    assert found["key"] == "PermissionError" and found["db"] == "PermissionError"
    assert found["server_environ"] == "PermissionError"
    assert found["listing"] == "PermissionError", "the worker may traverse the data dir, not list it"
    assert not found["own_env_has_sentinel"] and found["leaked_pids"] == []
    assert not [name for name in found["env_names"] if name.startswith(("AWS_", "FLYTE_SERVER"))]

    # The files themselves are private to the server's user.
    for name in ("server.key", "flyte.db"):
        assert stat.S_IMODE((isolated.data_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(isolated.data_dir.stat().st_mode) & 0o007 == 0


async def test_a_code_bundle_cannot_be_replaced_by_other_content(isolated: ServerProcess, rpc: Rpc) -> None:
    original, poison = b"the real bundle", b"import os; os.system('id')"
    md5, poison_md5 = hashlib.md5(original).digest(), hashlib.md5(poison).digest()

    def location(content_md5: bytes) -> dataproxy_service_pb2.CreateUploadLocationRequest:
        return dataproxy_service_pb2.CreateUploadLocationRequest(
            project=PROJECT, domain=DOMAIN, filename="fast.tar.gz", filename_root="bundle-x", content_md5=content_md5
        )

    with pytest.raises(ConnectError) as missing_md5:
        await rpc.data.create_upload_location(location(b""))
    assert missing_md5.value.code == Code.INVALID_ARGUMENT and "content_md5" in missing_md5.value.message

    # Both URLs are handed out before either upload: the store itself must refuse the second.
    real, attack = (
        await rpc.data.create_upload_location(location(md5)),
        await rpc.data.create_upload_location(location(poison_md5)),
    )
    assert real.native_url == attack.native_url
    async with httpx.AsyncClient() as http:
        no_md5 = await http.put(real.signed_url, content=poison)
        assert no_md5.status_code == 403, "a signed upload without its Content-MD5 must be refused"
        assert (await http.put(real.signed_url, content=original, headers=dict(real.headers))).status_code == 200
        overwrite = await http.put(attack.signed_url, content=poison, headers=dict(attack.headers))
        assert overwrite.status_code == 409
        again = await http.put(real.signed_url, content=original, headers=dict(real.headers))
        assert again.status_code == 200, "the same content may be uploaded again"
    assert Path(real.native_url).read_bytes() == original

    with pytest.raises(ConnectError) as taken:
        await rpc.data.create_upload_location(location(poison_md5))
    assert taken.value.code == Code.ALREADY_EXISTS


def _child_spec() -> task_definition_pb2.TaskSpec:
    spec = task_definition_pb2.TaskSpec()
    spec.task_template.id.name, spec.task_template.id.version = "isolation.child", "v1"
    spec.task_template.container.args.extend(["python", "-c", "pass"])
    return spec


async def test_uris_outside_the_runs_store_prefix_are_refused(
    isolated: ServerProcess, rpc: Rpc, wf: ModuleType
) -> None:
    run = flyte.run(wf.nap, seconds=120.0)
    run_id = identifier_pb2.RunIdentifier(org="", project=PROJECT, domain=DOMAIN, name=run.name)
    deadline = time.monotonic() + 60
    while flyte.remote.Run.get(run.name).phase not in ("RUNNING", "SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.2)
    blobs = isolated.data_dir / "blobs"
    own = blobs / PROJECT / DOMAIN / run.name
    server_key = isolated.data_dir / "server.key"
    link = own / "innocent-looking"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(server_key)
    bad_uris = [
        "file:///etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        str(server_key),
        str(isolated.data_dir / "flyte.db"),
        f"http://127.0.0.1:{isolated.port}/healthz",
        "s3://some-bucket/x/inputs.pb",
        f"{own}/../other-run/inputs.pb",
        str(blobs / PROJECT / DOMAIN / "other-run" / "inputs.pb"),
        str(blobs / "other-project" / DOMAIN / run.name / "inputs.pb"),
        str(link),
        "data:application/octet-stream;base64," + "A" * 20000,
    ]
    try:
        for index, uri in enumerate(bad_uris):
            for field in ("input_uri", "run_output_base"):
                request = queue_service_pb2.EnqueueActionRequest(
                    action_id=identifier_pb2.ActionIdentifier(run=run_id, name=f"evil{index}"),
                    parent_action_name="a0",
                    input_uri=f"{own}/evil/inputs.pb",
                    run_output_base=str(own),
                    task=run_definition_pb2.TaskAction(spec=_child_spec()),
                )
                setattr(request, field, uri)
                if field == "run_output_base" and uri.startswith("data:"):
                    continue
                with pytest.raises(ConnectError) as refused:
                    await rpc.queue.enqueue_action(request)
                assert refused.value.code == Code.INVALID_ARGUMENT, (field, uri, refused.value)
                assert "store" in refused.value.message or "inline" in refused.value.message, refused.value.message

        create = run_service_pb2.CreateRunRequest(
            project_id=identifier_pb2.ProjectIdentifier(name=PROJECT, domain=DOMAIN),
            task_spec=_child_spec(),
            offloaded_input_data=common_run_pb2.OffloadedInputData(uri="/etc", inputs_hash="x"),
        )
        with pytest.raises(ConnectError) as offloaded:
            await rpc.runs.create_run(create)
        assert offloaded.value.code == Code.INVALID_ARGUMENT

        listed = await rpc.runs.list_actions(
            run_service_pb2.ListActionsRequest(run_id=run_id, request=list_pb2.ListRequest(limit=100))
        )
        assert [action.id.name for action in listed.actions] == ["a0"], "nothing was recorded"
    finally:
        flyte.remote.Run.get(run.name).abort()
