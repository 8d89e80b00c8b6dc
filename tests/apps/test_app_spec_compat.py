"""App specs: ours serialize an ``AppEnvironment`` to the same flyteidl2 ``App`` message as PyPI flyte 2.12.1.

Both SDKs import one ``compat_apps`` module (written to a temporary directory) and serialize each
app with the same serialization context; the reference runs in its own venv (``tests/reference.py``)
and prints the messages as JSON. The comparison is of whole messages: container command (the
``fserve`` line with its gzip+base64 parameters), args, env, ports, resources, scaling, ingress,
security context, profile, inputs, links, timeouts and metadata.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from reference import reference_env

COMPAT_APPS = textwrap.dedent(
    '''
    """Apps both SDKs serialize; this module must stay importable by either."""
    import datetime

    import flyte
    import flyte.io
    from flyte.app import AppEnvironment, Domain, Link, Parameter, Port, Scaling, Subdomain, Timeouts

    cmd_app = AppEnvironment(name="cmd-app", image="python:3.12-slim", args="python -m http.server 8081", port=8081)

    fixed = AppEnvironment(
        name="fixed",
        image="python:3.12-slim",
        command=["python", "-m", "http.server"],
        args=["9000"],
        port=Port(9000, name="h2c"),
        scaling=Scaling(replicas=2, metric=Scaling.RequestRate(10)),
        resources=flyte.Resources(cpu=(1, 2), memory="1Gi", gpu="A100:1"),
        cluster_pool="gpu",
        secrets=["tok", flyte.Secret(key="k2", group="g", as_env_var="ZZ")],
        service_account="apps-sa",
        domain=Domain(subdomain=Subdomain(app_name="fixed")),
    )

    files = AppEnvironment(
        name="files",
        image="python:3.12-slim",
        args=["python", "-m", "http.server", "8080"],
        description="serves files",
        parameters=[
            Parameter(name="model", value=flyte.io.File(path="s3://bucket/model.bin")),
            Parameter(name="data", value=flyte.io.Dir(path="s3://bucket/data"), ignore_patterns=["*.tmp"]),
            Parameter(name="raw", value="s3://bucket/raw", type="file"),
            Parameter(name="mounted", value="s3://bucket/m", type="directory", download=False, mount="/mnt/m"),
            Parameter(name="kept", value=flyte.io.File(path="s3://bucket/k"), download=False, env_var="KEPT"),
        ],
        domain=Domain(
            subdomain=Subdomain(app_name="files", project_domain_suffix="default"), custom_domain="f.example.com"
        ),
        cluster="c1",
    )

    served = AppEnvironment(
        name="served",
        image="python:3.12-slim",
        port=8090,
        env_vars={"B": "2", "A": "1"},
        parameters=[Parameter(name="n", value="3")],
        scaling=Scaling(replicas=(0, 4), metric=Scaling.Concurrency(3), scaledown_after=45),
        timeouts=Timeouts(request=datetime.timedelta(minutes=2)),
        links=[Link(path="/health", title="Health", is_relative=True)],
        requires_auth=False,
    )


    @served.server
    def run_server(port: int) -> None:
        pass


    try:
        from fastapi import FastAPI
    except ImportError:
        FastAPI = None

    if FastAPI is not None:
        from flyte.app.extras import FastAPIAppEnvironment

        api = FastAPI()
        fast_app = FastAPIAppEnvironment(
            name="fast-app",
            app=api,
            image="python:3.12-slim",
            scaling=Scaling(
                replicas=(1, 3), metric=Scaling.Concurrency(5), scaledown_after=datetime.timedelta(minutes=2)
            ),
            timeouts=Timeouts(request=30),
            description="an api",
            parameters=[Parameter(name="greeting", value="hi", env_var="GREETING")],
            links=[Link(path="/health", title="Health", is_relative=True)],
            requires_auth=False,
        )
    '''
)

APPS = ("cmd_app", "fixed", "files", "served", "fast_app")

# (org, code bundle) of each context; the apps are serialized under every one.
CONTEXTS: dict[str, dict[str, Any]] = {
    "tgz": {"org": "o", "tgz": "s3://bucket/code.tgz"},
    "none": {"org": "", "tgz": None},
}

_DUMP = r"""
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(root))
import compat_apps
from google.protobuf.json_format import MessageToDict
from flyte.models import CodeBundle, SerializationContext
{import_serializer}
out = {{}}
for context_name, settings in json.loads(sys.argv[2]).items():
    bundle = CodeBundle(tgz=settings["tgz"], computed_version="abc", destination=".") if settings["tgz"] else None
    context = SerializationContext(
        version="v1", project="p", domain="d", org=settings["org"], code_bundle=bundle, root_dir=root
    )
    for name in json.loads(sys.argv[3]):
        env = getattr(compat_apps, name, None)
        if env is not None:
            out[f"{{context_name}}/{{name}}"] = MessageToDict(serialize(env, context))
pathlib.Path(sys.argv[4]).write_text(json.dumps(out, sort_keys=True))
"""


@pytest.fixture(scope="module")
def compat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compat-apps")
    (root / "compat_apps.py").write_text(COMPAT_APPS)
    return root


def _dump(python: str, serializer: str, root: Path, out: Path, env: dict[str, str] | None) -> dict[str, Any]:
    script = root / f"dump_{out.stem}.py"
    script.write_text(_DUMP.format(import_serializer=serializer))
    result = subprocess.run(
        [python, str(script), str(root), json.dumps(CONTEXTS), json.dumps(APPS), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


@pytest.fixture(scope="module")
def reference_specs(reference_python: str, compat_dir: Path) -> dict[str, Any]:
    serializer = (
        "from flyte.app._runtime.app_serde import translate_app_env_to_idl as serialize\n"
        "import flyte\nassert flyte.__version__ == '2.12.1', flyte.__version__"
    )
    return _dump(reference_python, serializer, compat_dir, compat_dir / "reference.json", reference_env())


@pytest.fixture(scope="module")
def our_specs(compat_dir: Path) -> Iterator[dict[str, Any]]:
    """Ours, in this process (the module is imported under the same name, then forgotten)."""
    from flyte._internal.serde import CodeBundle, SerializationContext
    from flyte.app._serde import app_to_idl

    sys.path.insert(0, str(compat_dir))
    try:
        module = importlib.import_module("compat_apps")
        out: dict[str, Any] = {}
        for context_name, settings in CONTEXTS.items():
            bundle = CodeBundle(tgz=settings["tgz"], computed_version="abc") if settings["tgz"] else None
            context = SerializationContext(
                version="v1", project="p", domain="d", org=settings["org"], code_bundle=bundle, root_dir=compat_dir
            )
            for name in APPS:
                env = getattr(module, name, None)
                if env is not None:
                    out[f"{context_name}/{name}"] = MessageToDict(app_to_idl(env, context))
        yield out
    finally:
        sys.path.remove(str(compat_dir))
        sys.modules.pop("compat_apps", None)


@pytest.mark.parametrize("context_name", sorted(CONTEXTS))
@pytest.mark.parametrize("app", APPS)
def test_app_spec_equals_pypi_flytes(
    app: str, context_name: str, reference_specs: dict[str, Any], our_specs: dict[str, Any]
) -> None:
    key = f"{context_name}/{app}"
    if key not in reference_specs:
        pytest.skip(f"the reference venv cannot build {app} (fastapi is not installed there)")
    assert _differences(our_specs[key], reference_specs[key]) == []


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two JSON values differ: ``path: ours != reference`` per leaf."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[str] = []
        for key in sorted(set(ours) | set(theirs)):
            found += _differences(ours.get(key), theirs.get(key), f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        pairs = enumerate(zip(ours, theirs, strict=True))
        return [d for index, (a, b) in pairs for d in _differences(a, b, f"{path}[{index}]")]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]
