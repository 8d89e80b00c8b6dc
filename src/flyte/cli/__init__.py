"""The ``flyte`` command line (``flyte.cli.main:main``), built with click.

Commands are defined one module each (``_run``, ``_create``, ``_delete``); heavy imports
(rich, the SDK's runtime, the user's code) happen inside the commands that need them, so that
``flyte --help`` stays quick.
"""
