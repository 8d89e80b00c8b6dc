"""Task, run and trigger serialisation, checked against what PyPI flyte 2.12.1 sends.

The expected values here were observed on the wire from the reference SDK (deploy and run
against a recording control plane); ``tests/compat/test_serde_compat.py`` compares whole
messages live when the reference venv is available.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flyteidl2.core import security_pb2, tasks_pb2
from google.protobuf import text_format

import flyte
from flyte._internal.serde import (
    CodeBundle,
    ImageCache,
    SerializationContext,
    container_args,
    run_spec_to_proto,
    task_to_spec,
    trigger_to_proto,
)
from flyte._internal.serde._resources import extended_resources_to_proto, resources_to_proto
from flyte._internal.serde._trigger import trigger_inputs
from flyte._run import RunConfig

env = flyte.TaskEnvironment(
    name="demo",
    resources=flyte.Resources(cpu=1, memory="500Mi"),
    env_vars={"FOO": "bar"},
    secrets=[flyte.Secret(key="token", group="gh")],
    description="demo env",
)


@env.task(
    cache=flyte.Cache(behavior="override", version_override="v7", ignored_inputs=("y",), serialize=True),
    retries=2,
    timeout=30,
)
async def child(x: int, y: str = "a") -> int:
    return x * 2


@env.task(short_name="entry", report=True, interruptible=True, entrypoint=True)
async def main(n: int = 3) -> list[int]:
    """Short summary line.

    A longer description that spans
    several lines.
    """
    return [n]


IMAGE = "ghcr.io/flyteorg/flyte:py3.11-v2.12.1"
# What the reference SDK writes for {"demo": IMAGE}.
IMAGE_CACHE = (
    "H4sIAAAAAAAC/6tWysxNTE+Nz8nPzy4tULKqVkpJzc1XslJKz0gu0svM10/LqSxJzS9KhzCsCiqN9QwNdcuM9AyBSKlWRympNDMnJb6oNC8+"
    "M6UYaEBtLQCOwWh6VAAAAA=="
)


def context(**overrides: object) -> SerializationContext:
    values: dict[str, object] = {
        "version": "v1",
        "project": "p",
        "domain": "d",
        "code_bundle": CodeBundle(tgz="s3://bucket/fast123.tar.gz"),
        "image_cache": ImageCache(image_lookup={"demo": IMAGE}),
        "sys_path": "./.:./.",
    }
    values.update(overrides)
    return SerializationContext(**values)  # type: ignore[arg-type]


def test_the_image_cache_is_byte_identical_to_flyte_2():
    assert ImageCache(image_lookup={"demo": IMAGE}).to_transport() == IMAGE_CACHE
    assert ImageCache.from_transport(IMAGE_CACHE).image_lookup == {"demo": IMAGE}
    with pytest.raises(ValueError, match="image-cache"):
        ImageCache.from_transport("not base64 gzip")


def test_container_args_match_protocol_3a():
    assert container_args(child, context()) == [
        *("a0", "--inputs", "{{.input}}", "--outputs-path", "{{.outputPrefix}}", "--version", "v1"),
        *("--raw-data-path", "{{.rawOutputDataPrefix}}", "--checkpoint-path", "{{.checkpointOutputPrefix}}"),
        *("--prev-checkpoint", "{{.prevCheckpointPrefix}}", "--run-name", "{{.runName}}"),
        *("--name", "{{.actionName}}", "--run-start-time", "{{.runStartTime}}", "--image-cache", IMAGE_CACHE),
        *("--tgz", "s3://bucket/fast123.tar.gz", "--dest", "."),
        *("--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver"),
        *("mod", "test_serde", "instance", "child"),
    ]
    pickled = container_args(child, context(code_bundle=CodeBundle(pkl="/runs/r/abc.pkl.gz"), image_cache=None))
    assert pickled[-4:] == ["--pkl", "/runs/r/abc.pkl.gz", "--dest", "."]
    assert "--resolver" not in pickled


async def test_deploy_spec_of_a_cached_task():
    spec = await task_to_spec(child, context(), deploy=True)
    template = spec.task_template
    assert text_format.MessageToString(template.id, as_one_line=True) == (
        'resource_type: TASK project: "p" domain: "d" name: "demo.child" version: "v1"'
    )
    assert template.type == "python"
    metadata = template.metadata
    assert text_format.MessageToString(metadata, as_one_line=True) == (
        'discoverable: true runtime { type: FLYTE_SDK version: "2.12.1" flavor: "python" } '
        'timeout { seconds: 30 } retries { retries: 2 } discovery_version: "v7" interruptible: false '
        'cache_serializable: true cache_ignore_input_vars: "y" generates_deck { } debuggable: true '
        'code_bundle_uri: "s3://bucket/fast123.tar.gz"'
    )
    container = template.container
    assert container.image == IMAGE
    assert [(e.key, e.value) for e in container.env] == [("FOO", "bar"), ("_F_SYS_PATH", "./.:./.")]
    assert text_format.MessageToString(container.resources, as_one_line=True) == (
        'requests { name: CPU value: "1" } requests { name: MEMORY value: "500Mi" }'
    )
    assert list(template.security_context.secrets) == [
        security_pb2.Secret(group="gh", key="token", mount_requirement=security_pb2.Secret.ENV_VAR, env_var="GH_TOKEN")
    ]
    assert [p.name for p in spec.default_inputs] == ["y"]
    assert spec.default_inputs[0].parameter.default.scalar.primitive.string_value == "a"
    assert spec.default_inputs[0].parameter.var.type.simple == 3  # STRING
    assert (spec.short_name, spec.environment.name, spec.environment.description) == ("child", "demo", "demo env")
    assert spec.HasField("documentation")


async def test_run_spec_leaves_out_deploy_only_fields():
    spec = await task_to_spec(main, context())
    assert not spec.default_inputs
    assert not spec.HasField("documentation")
    assert spec.environment.description == ""
    assert [e.key for e in spec.task_template.container.env] == ["FOO"]
    metadata = spec.task_template.metadata
    assert metadata.is_entrypoint and metadata.interruptible and metadata.generates_deck.value
    assert not metadata.discoverable
    assert metadata.discovery_version  # set even when caching is off, as Flyte 2 does
    assert spec.short_name == "entry"


async def test_documentation_comes_from_the_docstring():
    spec = await task_to_spec(main, context(), deploy=True)
    assert spec.documentation.short_description == "Short summary line."
    assert spec.documentation.long_description == "A longer description that spans\nseveral lines."


@env.task(timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), max_queued_time=60, deadline=600))
async def timed() -> None:
    return None


def test_timeouts():
    from flyte._internal.serde import task_template_to_proto

    metadata = task_template_to_proto(timed, context()).metadata
    assert (metadata.timeout.seconds, metadata.timeouts.queued_timeout.seconds) == (300, 60)
    assert metadata.timeouts.deadline.seconds == 600


@pytest.mark.parametrize(
    ("gpu", "device", "device_class", "partition"),
    [
        ("A100:1", "nvidia-tesla-a100", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("A100_80G:1", "nvidia-a100-80gb", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("H100:1", "nvidia-tesla-h100", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("L40s:1", "nvidia-l40s", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("B200:1", "B200", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("T4 shared:1", "T4 shared", tasks_pb2.GPUAccelerator.NVIDIA_GPU, ""),
        ("Inf2:1", "Inf2", tasks_pb2.GPUAccelerator.AMAZON_NEURON, ""),
        ("MI300X:1", "MI300X", tasks_pb2.GPUAccelerator.AMD_GPU, ""),
        ("Gaudi1:1", "Gaudi1", tasks_pb2.GPUAccelerator.HABANA_GAUDI, ""),
        (flyte.GPU("A100", 1, partition="1g.5gb"), "nvidia-tesla-a100", tasks_pb2.GPUAccelerator.NVIDIA_GPU, "1g.5gb"),
        (flyte.TPU("V5P", partition="2x2x1"), "tpu-v5p-slice", tasks_pb2.GPUAccelerator.GOOGLE_TPU, "2x2x1"),
    ],
)
def test_accelerators_are_named_as_flyte_2_names_them(gpu: object, device: str, device_class: int, partition: str):
    resources = flyte.Resources(gpu=gpu)  # type: ignore[arg-type]
    extended = extended_resources_to_proto(resources)
    assert extended is not None
    accelerator = extended.gpu_accelerator
    assert (accelerator.device, accelerator.device_class, accelerator.partition_size) == (
        device,
        device_class,
        partition,
    )
    requests = resources_to_proto(resources)
    assert requests is not None
    assert [(r.name, r.value) for r in requests.requests] == [(tasks_pb2.Resources.GPU, "1")]


def test_requests_limits_disk_and_shared_memory():
    resources = flyte.Resources(cpu=(1, 2), memory=("1Gi", "2Gi"), gpu=3, disk="10Gi", shm="auto")
    proto = resources_to_proto(resources)
    assert proto is not None
    assert text_format.MessageToString(proto, as_one_line=True) == (
        'requests { name: CPU value: "1" } requests { name: MEMORY value: "1Gi" } requests { name: GPU value: "3" } '
        'requests { name: EPHEMERAL_STORAGE value: "10Gi" } limits { name: CPU value: "2" } '
        'limits { name: MEMORY value: "2Gi" }'
    )
    extended = extended_resources_to_proto(resources)
    assert extended is not None and not extended.HasField("gpu_accelerator")
    assert text_format.MessageToString(extended.shared_memory, as_one_line=True) == (
        'mount_path: "/dev/shm" mount_name: "flyte-shm"'
    )
    sized = extended_resources_to_proto(flyte.Resources(shm="2Gi"))
    assert sized is not None and sized.shared_memory.size_limit == "2Gi"
    assert resources_to_proto(flyte.Resources(cpu=0.5)).requests[0].value == "0.5"  # type: ignore[union-attr]
    assert resources_to_proto(None) is None and extended_resources_to_proto(flyte.Resources(cpu=1)) is None


def test_run_spec_matches_flyte_2():
    config = RunConfig(
        env_vars={"E1": "v1"},
        labels={"l": "1"},
        annotations={"a": "b"},
        overwrite_cache=True,
        interruptible=False,
        queue="qq",
        max_action_concurrency=4,
        raw_data_path="/tmp/raw",
        run_base_dir="/tmp/rb",
        service_account="sa1",
    )
    spec = run_spec_to_proto(config, sys_path="./.:./.")
    assert text_format.MessageToString(spec, as_one_line=True) == (
        'labels { values { key: "l" value: "1" } } annotations { values { key: "a" value: "b" } } '
        'envs { values { key: "E1" value: "v1" } values { key: "LOG_LEVEL" value: "30" } '
        'values { key: "LOG_FORMAT" value: "console" } values { key: "USER_LOG_LEVEL" value: "20" } '
        'values { key: "_F_SYS_PATH" value: "./.:./." } } interruptible { } overwrite_cache: true queue: "qq" '
        'raw_data_storage { raw_data_prefix: "/tmp/raw" } security_context { run_as { k8s_service_account: "sa1" } } '
        "cache_config { overwrite_cache: true cache_lookup_scope: CACHE_LOOKUP_SCOPE_GLOBAL } "
        'max_action_concurrency: 4 run_base_dir: "/tmp/rb"'
    )
    plain = run_spec_to_proto(RunConfig())
    assert text_format.MessageToString(plain.cache_config, as_one_line=True) == (
        "cache_lookup_scope: CACHE_LOOKUP_SCOPE_GLOBAL"
    )


trigger_env = flyte.TaskEnvironment(name="trig")


@trigger_env.task
async def scheduled(when: datetime, n: int = 1) -> int:
    return n


async def test_triggers_match_flyte_2():
    hourly = flyte.Trigger(
        "hourly",
        flyte.Cron("0 * * * *", timezone="Europe/Paris"),
        inputs={"when": flyte.TriggerTime, "n": 2},
        description="desc",
        auto_activate=False,
        env_vars={"A": "1"},
        interruptible=True,
        overwrite_cache=True,
        queue="qx",
        max_action_concurrency=3,
        labels={"l": "v"},
        annotations={"an": "x"},
    )
    inputs = await trigger_inputs(hourly, scheduled)
    assert text_format.MessageToString(inputs, as_one_line=True) == (
        'literals { name: "n" value { scalar { primitive { integer: 2 } } } } '
        'context { key: "_u_kickoff_time_input_arg" value: "when" }'
    )
    proto = trigger_to_proto(hourly, inputs=inputs)
    assert text_format.MessageToString(proto.automation_spec, as_one_line=True) == (
        'type: TYPE_SCHEDULE schedule { kickoff_time_input_arg: "when" '
        'cron { expression: "0 * * * *" timezone: "Europe/Paris" } }'
    )
    assert text_format.MessageToString(proto.spec.run_spec, as_one_line=True) == (
        'labels { values { key: "l" value: "v" } } annotations { values { key: "an" value: "x" } } '
        'envs { values { key: "A" value: "1" } } interruptible { value: true } overwrite_cache: true '
        'queue: "qx" max_action_concurrency: 3'
    )
    assert (proto.name, proto.spec.active, proto.spec.description) == ("hourly", False, "desc")

    rate = flyte.Trigger("rate", flyte.FixedRate(90, start_time=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    assert text_format.MessageToString(trigger_to_proto(rate).automation_spec, as_one_line=True) == (
        "type: TYPE_SCHEDULE schedule { rate { value: 90 unit: FIXED_RATE_UNIT_MINUTE "
        "start_time { seconds: 1704067200 } } }"
    )
    defaults = await trigger_inputs(rate, scheduled)
    assert [literal.name for literal in defaults.literals] == ["n"]
