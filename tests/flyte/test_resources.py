from __future__ import annotations

import pytest

from flyte._resources import (
    AMD_GPU,
    APPLE_SILICON,
    GPU,
    HABANA_GAUDI,
    TPU,
    Device,
    Neuron,
    Resources,
    parse_cpu,
    parse_quantity_bytes,
)


@pytest.mark.parametrize("cpu", [1, 0.5, "2", "500m", "0.25", (1, 2), ("500m", "1"), (1, "2")])
def test_accepted_cpu_forms(cpu: object) -> None:
    assert Resources(cpu=cpu).cpu == cpu  # type: ignore[arg-type]


@pytest.mark.parametrize("memory", ["4Gi", "512Mi", "2G", "1.5Gi", "4GB", "4gi", "1000", ("1Gi", "2Gi")])
def test_accepted_memory_forms(memory: object) -> None:
    assert Resources(memory=memory).memory == memory  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu": -1}, "cpu must be greater than 0"),
        ({"cpu": 0}, "cpu must be greater than 0"),
        ({"cpu": "abc"}, "cpu must be a number of cores"),
        ({"cpu": True}, "cpu must be a number of cores"),
        ({"cpu": (1, 2, 3)}, "cpu as a tuple must be (request, limit)"),
        ({"cpu": (2, 1)}, "cpu request 2 is greater than its limit 1"),
        ({"memory": 4}, "memory must be a quantity string"),
        ({"memory": "abc"}, "memory must be a quantity string"),
        ({"memory": "4Qi"}, "unknown unit 'Qi'"),
        ({"memory": "-1Gi"}, "memory must be a quantity string"),
        ({"memory": "0Gi"}, "memory must be greater than 0"),
        ({"memory": ("2Gi", "1Gi")}, "memory request '2Gi' is greater than its limit '1Gi'"),
        ({"disk": "lots"}, "disk must be a quantity string"),
        ({"shm": "big"}, "shm must be a quantity string"),
        ({"gpu": -1}, "gpu must be greater than or equal to 0"),
        ({"gpu": "A100"}, "gpu must be 'TYPE:COUNT'"),
        ({"gpu": "Foo:1"}, "'Foo:1'"),
        ({"gpu": "A100:9"}, "'A100:9'"),
        ({"gpu": 1.5}, "gpu must be a count"),
    ],
)
def test_invalid_values_name_the_field_and_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Resources(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_memory_request_equal_to_limit_in_other_units_is_fine() -> None:
    assert Resources(memory=("1024Mi", "1Gi")).memory_request_limit() == (2**30, 2**30)


def test_request_limit_conversion() -> None:
    assert Resources(cpu=("250m", 2)).cpu_request_limit() == (0.25, 2.0)
    assert Resources(cpu=3).cpu_request_limit() == (3.0, 3.0)
    assert Resources().cpu_request_limit() == (None, None)
    assert Resources(memory="2G").memory_request_limit() == (2 * 10**9, 2 * 10**9)


def test_parsers() -> None:
    assert parse_cpu("1500m") == 1.5
    assert parse_quantity_bytes("1Ki") == 1024
    assert parse_quantity_bytes("1k") == 1000
    assert parse_quantity_bytes("3GiB") == 3 * 2**30


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        ("A100:2", Device(2, "GPU", device="A100")),
        ("T4 shared:1", Device(1, "GPU", device="T4 shared")),
        ("Trn1:16", Device(16, "NEURON", device="Trn1")),
        ("Inf2:12", Device(12, "NEURON", device="Inf2")),
        ("MI300X:1", Device(1, "AMD_GPU", device="MI300X")),
        ("Gaudi1:1", Device(1, "HABANA_GAUDI", device="Gaudi1")),
        ("AppleSilicon", Device(1, "APPLE_SILICON", device="AppleSilicon")),
        (3, Device(3, "GPU")),
        (0, None),
        (None, None),
        (GPU("H100", 1, "1g.10gb"), Device(1, "GPU", device="H100", partition="1g.10gb")),
    ],
)
def test_get_device(gpu: object, expected: Device | None) -> None:
    assert Resources(gpu=gpu).get_device() == expected  # type: ignore[arg-type]


def test_shared_memory() -> None:
    assert Resources(shm="auto").get_shared_memory() == ""
    assert Resources(shm="1Gi").get_shared_memory() == "1Gi"
    assert Resources().get_shared_memory() is None


def test_resources_are_immutable_and_comparable() -> None:
    resources = Resources(cpu=1, memory="1Gi")
    assert resources == Resources(cpu=1, memory="1Gi")
    assert hash(resources) == hash(Resources(cpu=1, memory="1Gi"))
    with pytest.raises(AttributeError):
        resources.cpu = 2  # type: ignore[misc]


def test_device_helpers() -> None:
    assert GPU("A100", 2) == Device(2, "GPU", device="A100")
    assert TPU("V5P", "2x2x1") == Device(1, "TPU", device="V5P", partition="2x2x1")
    assert Neuron("Inf1").device_class == "NEURON"
    assert AMD_GPU("MI250").device == "MI250"
    assert HABANA_GAUDI("Gaudi1").device_class == "HABANA_GAUDI"
    assert APPLE_SILICON().device_class == "APPLE_SILICON"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GPU("Foo", 1), "Invalid GPU type 'Foo'"),  # type: ignore[arg-type]
        (lambda: GPU("A100", 0), "GPU quantity must be an int of at least 1"),
        (lambda: GPU("A100", 1, "1g.10gb"), "Invalid partition '1g.10gb' for GPU A100"),
        (lambda: GPU("T4 shared", 1, "1g.5gb"), "shared GPU (T4 shared) takes no partition"),
        (lambda: TPU("V5E", "2x2x1"), "Invalid partition '2x2x1' for TPU V5E"),
        (lambda: TPU("X"), "Invalid TPU type 'X'"),  # type: ignore[arg-type]
        (lambda: Neuron("Foo"), "Invalid Neuron type 'Foo'"),  # type: ignore[arg-type]
        (lambda: AMD_GPU("X"), "Invalid AMD GPU type 'X'"),  # type: ignore[arg-type]
        (lambda: Device(0, "GPU"), "Device.quantity must be at least 1"),
        (lambda: Device(1, "FOO"), "Device.device_class must be one of"),  # type: ignore[arg-type]
    ],
)
def test_device_validation(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_gpu_without_known_partitions_accepts_any_partition() -> None:
    assert GPU("T4", 1, "1g.5gb").partition == "1g.5gb"
