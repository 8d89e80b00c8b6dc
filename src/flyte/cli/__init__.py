"""The ``flyte`` command line (``flyte.cli.main:main``), built with click.

Commands are defined one module each (``_run``, ``_create``, ``_delete``); heavy imports
(rich, the SDK's runtime, the user's code) happen inside the commands that need them, so that
``flyte --help`` stays quick.
"""

import os as _os
import sys as _sys

_HELP_FLAGS = frozenset({"-h", "--help"})


def _wants_help(argv: list[str]) -> bool:
    """Whether this process is the ``flyte`` command asked for help (``--help``, ``-h``, or no arguments)."""
    program = _os.path.basename(argv[0]) if argv else ""
    if program not in ("flyte", "__main__.py"):
        return False
    return len(argv) == 1 or any(arg in _HELP_FLAGS for arg in argv[1:])


def _use_rich_help() -> None:
    """Render help with rich-click (panels, grouped options) when help is what was asked for.

    Done before the command modules define their commands (they are plain click), so only a help
    request pays for importing rich; every other invocation keeps click's quick start.
    """
    try:
        from rich_click.patch import patch
    except ImportError:  # rich-click is a dependency; a broken install still gets plain help
        return
    from flyte.cli._help import configure_rich_help

    patch(rich_config=configure_rich_help())


if _wants_help(_sys.argv) and not _os.environ.get("FLYTE_PLAIN_HELP"):
    _use_rich_help()
