"""Isolation of tasks from the control plane, in process: environment, worker user, store reads, uploads, logs.

The end-to-end attacks (a task reading the server's key, database and environment; bundle
overwrite; URI attacks over the wire) are in ``tests/e2e/test_isolation.py``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import stat
import sys
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from engine_harness import create_run, key, phase_name, running_engine, task_spec
from flyteidl2.secret import definition_pb2, payload_pb2

from flyte_server.blobs.local import LocalBlobStore
from flyte_server.engine.data import DataAccess
from flyte_server.engine.locations import check_location
from flyte_server.isolation import DEFAULT_WORKER_USER, grant_traverse, inherited_environment, resolve_worker_identity
from flyte_server.validation import ValidationInterceptor

SERVER_ONLY = {
    "FLYTE_SERVER_SECRET_KEY": "master-key-value",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    "AWS_ACCESS_KEY_ID": "aws-key-id",
    "DATABASE_URL": "postgresql://admin:pw@db/flyte",
    "FLYTE_SERVER_DB": "postgresql://admin:pw@db/flyte",
}

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only a server running as root switches users")


async def test_no_server_variable_reaches_a_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SERVER_ONLY.items():
        monkeypatch.setenv(name, value)
    async with running_engine(tmp_path) as engine:
        assert not set(SERVER_ONLY) & set(engine.launcher.base_env)
        for name in ("FLYTE_SERVER_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
            run = await create_run(engine, task_spec("t.env", "env", name))
            phases = [details.status.phase async for details in engine.queries.watch_action_details(key(run))]
            assert phase_name(phases[-1]) == "SUCCEEDED"
            _, outputs, _, _ = await engine.queries.action_data(key(run))
            assert outputs.literals[0].value.scalar.primitive.integer == 0, f"{name} reached the task"


def test_the_inherited_environment_is_an_allow_list() -> None:
    environ = {**SERVER_ONLY, "PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HTTPS_PROXY": "http://proxy:3128"}
    assert inherited_environment(environ) == {
        "PATH": "/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "HTTPS_PROXY": "http://proxy:3128",
    }


@root_only
async def test_tasks_of_a_root_server_run_as_the_worker_user(tmp_path: Path) -> None:
    async with running_engine(tmp_path, worker_user=None) as engine:
        assert engine.worker is not None and engine.worker.name == DEFAULT_WORKER_USER
        run = await create_run(engine, task_spec("t.ok", "ok", "7"))
        phases = [details.status.phase async for details in engine.queries.watch_action_details(key(run))]
        assert phase_name(phases[-1]) == "SUCCEEDED"
        _, outputs, _, outputs_uri = await engine.queries.action_data(key(run))
        assert outputs.literals[0].value.scalar.primitive.integer == 7
        assert Path(outputs_uri).stat().st_uid == engine.worker.uid, "the task wrote its outputs as the worker user"
        assert stat.S_IMODE(Path(outputs_uri).parent.stat().st_mode) & 0o002 == 0


@root_only
def test_traverse_rights_reach_only_that_user(tmp_path: Path) -> None:
    worker = resolve_worker_identity(None)
    assert worker is not None
    private = tmp_path / "private" / "inner"
    private.mkdir(parents=True)
    os.chmod(private.parent, 0o700)
    (private / "file").write_text("ok")
    grant_traverse(private, worker)
    import subprocess

    def as_worker(*argv: str) -> int:
        return subprocess.run(argv, user=worker.uid, group=worker.gid, extra_groups=[], capture_output=True).returncode

    assert as_worker("cat", str(private / "file")) == 0
    assert as_worker("ls", str(private.parent)) != 0, "traverse only: no listing"
    nobody = pwd.getpwnam("nobody")
    assert (
        subprocess.run(
            ["cat", str(private / "file")],
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
        ).returncode
        != 0
    ), "another user got the rights too"


async def test_the_server_reads_nothing_outside_its_store(tmp_path: Path) -> None:
    secret = tmp_path / "server.key"
    secret.write_bytes(b"the master key")
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    data = DataAccess(store)
    run_dir = Path(store.native_url("p/d/r1"))
    run_dir.mkdir(parents=True)
    (run_dir / "inputs.pb").write_bytes(b"inputs")
    (run_dir / "link.pb").symlink_to(secret)
    os.mkfifo(run_dir / "fifo.pb")

    assert await data.read(str(run_dir / "inputs.pb")) == b"inputs"
    for uri in (str(secret), f"file://{secret}", str(run_dir / "link.pb"), str(run_dir / "fifo.pb"), "/etc/passwd"):
        assert await data.read(uri) is None, uri
    assert await data.read("http://127.0.0.1:9/x") is None
    error, outputs, report = await data.attempt_files(str(tmp_path))
    assert (error, outputs, report) == (None, None, False)
    with pytest.raises(ValueError, match="not a location"):
        await data.write("/tmp/elsewhere.pb", b"x")


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("{root}/p/d/r1/a1/inputs.pb", True),
        ("{root}/p/d/r1", True),
        ("file://{root}/p/d/r1/x", True),
        ("data:application/octet-stream;base64,AAAA", True),
        ("{root}/p/d/r2/x", False),
        ("{root}/p/d/r1/../r2/x", False),
        ("{root}/p/d/r10/x", False),
        ("{root}/q/d/r1/x", False),
        ("relative/p/d/r1", False),
        ("/etc/passwd", False),
        ("http://127.0.0.1/p/d/r1", False),
        ("s3://bucket/p/d/r1/x", False),
        ("data:application/octet-stream;base64,not base64!", False),
        ("data:application/octet-stream;base64," + "A" * 20000, False),
    ],
)
def test_locations_must_lie_in_the_runs_prefix(tmp_path: Path, uri: str, allowed: bool) -> None:
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    given = uri.format(root=store.root)
    if allowed:
        assert check_location(store, given, prefix="p/d/r1", what="input_uri", inline=True) == given
    else:
        with pytest.raises(ConnectError) as refused:
            check_location(store, given, prefix="p/d/r1", what="input_uri", inline=True)
        assert refused.value.code == Code.INVALID_ARGUMENT and "input_uri" in refused.value.message


async def test_a_local_upload_needs_its_md5_and_keeps_the_first_content(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    with pytest.raises(ValueError, match="MD5"):
        store.sign_upload("uploads/p/d/x/b.tgz", expires_in=60, content_md5=None, base_url="http://h")
    md5 = hashlib.md5(b"bundle").digest()
    url, headers = store.sign_upload("uploads/p/d/x/b.tgz", expires_in=60, content_md5=md5, base_url="http://h")
    query = url.split("?", 1)[1]
    assert store.verify("PUT", "uploads/p/d/x/b.tgz", query, content_md5=headers["Content-MD5"])
    assert not store.verify("PUT", "uploads/p/d/x/b.tgz", query, content_md5=None)
    assert not store.verify("PUT", "uploads/p/d/x/b.tgz", query, content_md5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert await store.put_upload("uploads/p/d/x/b.tgz", b"bundle")
    assert await store.put_upload("uploads/p/d/x/b.tgz", b"bundle"), "the same content again is fine"
    assert not await store.put_upload("uploads/p/d/x/b.tgz", b"poison")
    assert await store.get("uploads/p/d/x/b.tgz") == b"bundle"
    assert await store.content_md5("uploads/p/d/x/b.tgz") == md5


def test_secret_values_never_reach_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    request = payload_pb2.CreateSecretRequest(secret_spec=definition_pb2.SecretSpec(string_value="hunter2-value"))
    request.id.name = "db-password"
    with caplog.at_level(logging.DEBUG, logger="flyte_server.validation"):
        ValidationInterceptor()._check(request)
    logged = " ".join(str(getattr(record, "request", "")) for record in caplog.records)
    assert "db-password" in logged, "the request is logged"
    assert "hunter2-value" not in logged and request.secret_spec.string_value == "hunter2-value"


async def test_a_symlink_planted_in_the_store_does_not_redirect_the_servers_writes(tmp_path: Path) -> None:
    outside = tmp_path / "etc"
    outside.mkdir()
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    Path(store.native_url("p/d")).mkdir(parents=True)
    Path(store.native_url("p/d/run-to-come")).symlink_to(outside)
    with pytest.raises(OSError):
        await store.put("p/d/run-to-come/inputs/inputs.pb", b"x")
    assert list(outside.iterdir()) == [], "the server wrote through the link"
    await store.put("p/d/real-run/inputs/inputs.pb", b"x")
    assert await store.get("p/d/real-run/inputs/inputs.pb") == b"x"


@root_only
def test_a_symlink_planted_where_a_work_dir_goes_is_not_followed(tmp_path: Path) -> None:
    from flyte_server.isolation import make_owned_dirs, prepare_worker_areas

    worker = resolve_worker_identity(None)
    assert worker is not None
    data_dir, outside = tmp_path / "data", tmp_path / "outside"
    data_dir.mkdir()
    outside.mkdir()
    prepare_worker_areas(worker, data_dir=data_dir, owned=[data_dir / "work"], reachable=[], python=sys.executable)
    assert (data_dir / "work").stat().st_uid == worker.uid
    (data_dir / "work" / "run-to-come").symlink_to(outside)
    with pytest.raises(OSError):
        make_owned_dirs(data_dir / "work" / "run-to-come" / "a1" / "1", worker.owner)
    assert list(outside.iterdir()) == [] and outside.stat().st_uid != worker.uid
    make_owned_dirs(data_dir / "work" / "real-run" / "a1" / "1", worker.owner)
    assert (data_dir / "work" / "real-run" / "a1" / "1").stat().st_uid == worker.uid


@root_only
def test_an_unknown_worker_user_is_a_one_line_start_error(tmp_path: Path) -> None:
    import subprocess

    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "FLYTE_SERVER"))}
    command = [sys.executable, "-m", "flyte", "start", "server", "--port", "0", "--data-dir", str(tmp_path / "d")]
    result = subprocess.run(
        [*command, "--worker-user", "no-such-user-here"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: --worker-user no-such-user-here: there is no such user"


async def test_a_symlink_loop_in_the_store_reads_as_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", secret=b"k")
    run_dir = Path(store.native_url("p/d/r1"))
    run_dir.mkdir(parents=True)
    (run_dir / "a").symlink_to(run_dir / "b")
    (run_dir / "b").symlink_to(run_dir / "a")
    assert await DataAccess(store).read(str(run_dir / "a" / "outputs.pb")) is None
    assert store.key_of(str(run_dir / "a")) is None
    with pytest.raises(ConnectError):
        check_location(store, str(run_dir / "a" / "x"), prefix="p/d/r1", what="input_uri")
