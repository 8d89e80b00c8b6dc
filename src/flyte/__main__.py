"""``python -m flyte``: the same as the ``flyte`` command."""

from flyte.cli.main import main

if __name__ == "__main__":
    main()
