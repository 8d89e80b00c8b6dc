"""The version of this distribution (kept in one place for packaging and ``flyte --version``)."""

__version__ = "2.12.1.dev0+ours.0.1.0"
