"""Small helpers kept at the private path Flyte 2's plugins import them from (``flyte._utils``)."""

from flyte._utils.lazy_module import is_imported, lazy_module

__all__ = ["is_imported", "lazy_module"]
