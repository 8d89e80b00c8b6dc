"""The version of this distribution (kept in one place for packaging and ``flyte --version``)."""

__version__ = "0.1.0"
