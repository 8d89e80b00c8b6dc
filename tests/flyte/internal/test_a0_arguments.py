"""``a0``'s command line: the fast path a reused worker takes agrees with ``argparse`` on every shape."""

from __future__ import annotations

import pytest

from flyte._internal.runtime import entrypoint

USUAL = [
    "--inputs", "/r/c1/inputs.pb", "--outputs-path", "/r/c1/1", "--version", "v1",
    "--raw-data-path", "/raw", "--checkpoint-path", "/r/c1/1/_flytecheckpoints", "--prev-checkpoint", '""',
    "--run-name", "r1", "--name", "c1", "--run-start-time", "2026-01-01T00:00:00Z", "--dest", ".",
    "--tgz", "/b/fast.tar.gz", "--image-cache", "H4sIAAAA",
    "--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver", "mod", "wf", "instance", "noop",
]  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        USUAL,
        ["--debug", *USUAL],
        [*USUAL[:-4], "--interactive-mode", *USUAL[-4:]],
        USUAL[:-6],  # no resolver at all
        [*USUAL, "--debug"],  # a switch after the resolver's arguments
        [*USUAL, "--bogus", "1"],  # unknown flags are ignored with a warning
        ["--inputs=/r/in.pb", *USUAL[2:]],  # --flag=value
        ["--inputs", "data:application/x-protobuf;base64,CgA=", *USUAL[2:]],
    ],
)
def test_the_fast_path_parses_like_argparse(argv: list[str]) -> None:
    fast = entrypoint._fast_parse(argv)
    reference, _ = entrypoint._parser().parse_known_args(argv)
    if fast is not None:
        assert vars(fast) == vars(reference)
    env: dict[str, str] = {}
    assert entrypoint.options_from_args(argv, env).resolver_args == reference.resolver_args


def test_the_fast_path_takes_the_usual_shape() -> None:
    assert entrypoint._fast_parse(USUAL) is not None
    assert entrypoint._fast_parse(["--debug", *USUAL]) is not None


@pytest.mark.parametrize("argv", [USUAL[2:], [*USUAL[:-1], "--version"], ["--inputs"]])
def test_unusable_arguments_still_get_argparse_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        entrypoint.options_from_args(argv, {"RUN_NAME": "r", "ACTION_NAME": "a"})
    assert exited.value.code == 2
    assert "a0: error:" in capsys.readouterr().err
