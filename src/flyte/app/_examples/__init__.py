"""Example apps shipped with the SDK (``flyte serve hello``)."""
