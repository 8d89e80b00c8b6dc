"""``import flyte`` must stay fast and free of side effects."""

from __future__ import annotations

import json
import subprocess
import sys

import flyte

# Heavy or side-effecting packages that must load only when a run or a command needs them.
FORBIDDEN_PREFIXES = (
    "google.protobuf",
    "flyteidl2",
    "connectrpc",
    "rich",
    "click",
    "pydantic",
    "yaml",
    "msgpack",
    "mashumaro",
    "cloudpickle",
    "fsspec",
    "pandas",
    "pyarrow",
    "httpx",
    "sqlite3",
    "flyte.cli",
    "flyte.types",
    "flyte_server",
)

PUBLIC_NAMES = """
    AMD_GPU APPLE_SILICON ActionOutputs AsyncFunctionTaskTemplate Backoff BaseCheckpoint Cache CachePolicy
    CacheRequest Checkpoint Cron Device DeviceClass Documentation Environment FixedRate GPU HABANA_GAUDI Image
    Link Neuron OnArtifact PodTemplate Resources RetryStrategy ReusePolicy Run Secret SecretRequest TPU
    TaskEnvironment TaskTemplate Timeout TimeoutType Trigger TriggerTime TriggeredArtifact TriggeredPartition
    __version__ ctx current_domain current_project custom_context deploy get_custom_context group init
    init_from_api_key init_from_config init_in_cluster init_passthrough is_control_plane_available
    latest_checkpoint load_interactive_ctx load_plugin_config logger map rerun run run_python_script
    system_logger trace version with_runcontext
    ConditionWebhook new_condition ImageBuild build build_images
    AppHandle serve with_servecontext
""".split()

PROBE = """
import json, logging, sys
before_hook = sys.excepthook
before_handlers = list(logging.getLogger().handlers)
import flyte
print(json.dumps({
    "modules": sorted(sys.modules),
    "excepthook_changed": sys.excepthook is not before_hook,
    "root_handlers_changed": logging.getLogger().handlers != before_handlers,
}))
"""


def test_import_loads_no_heavy_modules_and_changes_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    loaded = [m for m in report["modules"] if m.startswith(FORBIDDEN_PREFIXES)]
    assert loaded == [], f"import flyte loaded {loaded}"
    assert not report["excepthook_changed"]
    assert not report["root_handlers_changed"]


def test_public_names_are_pinned() -> None:
    assert set(flyte.__all__) == set(PUBLIC_NAMES)
    for name in flyte.__all__:
        assert hasattr(flyte, name), name
