"""The version of this distribution (kept in one place for packaging and ``flyte --version``).

The version says which Flyte 2 API level this package implements: the public version is the
PyPI ``flyte`` release whose API we follow, and the local label (``+ours.N``) counts our own
releases at that level. PEP 440 ignores a local label when a requirement has none, so packages
that require ``flyte``, ``flyte>=2``, ``flyte~=2.12`` or ``flyte==2.12.1`` (the ``flyteplugins-*``
family) resolve against this distribution; ``flyte<2.12.1`` does not, rightly.
"""

from __future__ import annotations

# A plain literal: setuptools reads it without importing the package (see pyproject.toml).
__version__ = "2.12.1+ours.1"
"""PEP 440 version of the distribution: ``<API level>+ours.<our release at that level>``."""

API_VERSION = __version__.partition("+")[0]
"""The PyPI ``flyte`` release whose public API (SDK, CLI, wire format) this package implements."""
