"""What a running app knows about itself: :func:`ctx` and :func:`get_parameter`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Literal

__all__ = ["MODE_ENV", "PARAMETERS_ENV", "AppContext", "ctx", "get_parameter"]

MODE_ENV = "FLYTE_APP_MODE"
"""``local`` under ``flyte serve --local`` / ``flyte.serve`` in local mode."""

PARAMETERS_ENV = "FLYTE_APP_PARAMETERS"
"""The JSON object of parameter values (by name) ``fserve`` hands to the app."""


@dataclass(frozen=True)
class AppContext:
    """Where the app runs: ``mode`` is ``"local"`` (``flyte serve --local``) or ``"remote"``."""

    mode: Literal["local", "remote"] = "remote"
    project: str = ""
    raw_data_path: str = ""
    domain: str = ""


def ctx() -> AppContext:
    """The context of the running app."""
    mode = os.environ.get(MODE_ENV, "remote")
    return AppContext(
        mode="local" if mode == "local" else "remote",
        project=os.environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
        raw_data_path=os.environ.get("FLYTE_APP_RAW_DATA_PATH", ""),
        domain=os.environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
    )


def get_parameter(name: str) -> str:
    """The value of the app's parameter ``name`` (a string; file and directory parameters give their path).

    Raises:
        ValueError: the app has no such parameter.
    """
    try:
        values = json.loads(os.environ.get(PARAMETERS_ENV) or "{}")
    except ValueError:
        values = {}
    if name not in values:
        raise ValueError(f"the app has no parameter {name!r}; it has {sorted(values)}")
    return str(values[name])
