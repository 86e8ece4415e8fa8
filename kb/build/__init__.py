"""Writing an index: build or update the backend the settings name from the content folder, or drop it.

`local` is built by kb.build.local (segments in the index folder); `milvus` is synced by kb.backends.milvus.
Entry points call these functions and never branch on the backend.
"""

from __future__ import annotations

from kb.core.config import Settings


def build(settings: Settings, *, full: bool = False, embedder=None, progress=None):
    """Build or update the index the settings point at from settings.content_dir (only what changed); returns a
    kb.build.local.BuildReport."""
    if settings.checked().backend == "milvus":
        from kb.backends.milvus import sync_milvus

        return sync_milvus(settings, settings.milvus_uri, settings.milvus_collection, full=full, embedder=embedder,
                           progress=progress)
    from kb.build.local import build_index

    return build_index(settings, full=full, embedder=embedder, progress=progress)


def drop(settings: Settings) -> None:
    """Remove a Milvus collection kb made (its alias, physical collections and lease); local folders are the
    caller's to delete."""
    if settings.checked().backend == "milvus":
        from kb.backends.milvus import drop_collection

        drop_collection(settings.milvus_uri, settings.milvus_collection)
