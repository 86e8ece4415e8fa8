"""Which backend the settings name: open it for search, build or sync it, and say where it lives.

`local` (the default) is the index folder (kb.local, built by kb.build); `milvus` is a collection at a Milvus URI
(kb.milvus, needs the .[milvus] extra). Entry points call these three functions and never branch on the backend.
"""

from __future__ import annotations

from kb.backend import Backend
from kb.build import BuildReport, Progress, build_index
from kb.config import Settings
from kb.local import open_local
from kb.milvus import current_version as milvus_version
from kb.milvus import drop_collection, open_milvus, sync_milvus
from kb.store import current_version as local_version


def open_backend(settings: Settings, model: str | None = None) -> Backend:
    """The live build the settings point at, for search. Given `model` (a canonical name), refuse another one's."""
    if settings.checked().backend == "milvus":
        return open_milvus(settings.milvus_uri, settings.milvus_collection, model)
    return open_local(settings.index_dir, model)


def build(settings: Settings, *, full: bool = False, embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the index the settings point at from settings.content_dir (only what changed)."""
    if settings.checked().backend == "milvus":
        return sync_milvus(settings, settings.milvus_uri, settings.milvus_collection, full=full, embedder=embedder,
                           progress=progress)
    return build_index(settings, full=full, embedder=embedder, progress=progress)


def current_version(settings: Settings) -> str:
    """The version a fresh open would get (cheap: the CURRENT pointer, or the Milvus alias and last commit)."""
    if settings.checked().backend == "milvus":
        return milvus_version(settings.milvus_uri, settings.milvus_collection)
    return local_version(settings.index_dir).name


def where(settings: Settings) -> str:
    """Where the index lives, for messages."""
    if settings.backend == "milvus":
        return f"Milvus collection '{settings.milvus_collection}' at {settings.milvus_uri}"
    return f"index folder {settings.index_dir}"


def drop(settings: Settings) -> None:
    """Remove a Milvus collection kb made (its alias, physical collections and lease); local folders are the
    caller's to delete."""
    if settings.checked().backend == "milvus":
        drop_collection(settings.milvus_uri, settings.milvus_collection)
