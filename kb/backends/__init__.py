"""Which backend the settings name, for reading: open it for search, tell its current version and where it lives.

`local` (the default) is the index folder (kb.backends.local); `milvus` is a collection at a Milvus URI
(kb.backends.milvus, needs the .[milvus] extra), imported only when the settings name it. Writing (build, sync,
drop) is kb.build's. Entry points call these functions and never branch on the backend.
"""

from __future__ import annotations

from kb.backends.protocol import Backend
from kb.core.config import Settings


def open_backend(settings: Settings, model: str | None = None) -> Backend:
    """The live build the settings point at, for search. Given `model` (a canonical name), refuse another one's."""
    if settings.checked().backend == "milvus":
        from kb.backends.milvus import open_milvus

        return open_milvus(settings.milvus_uri, settings.milvus_collection, model)
    from kb.backends.local import open_local

    return open_local(settings.index_dir, model)


def current_version(settings: Settings) -> str:
    """The version a fresh open would get (cheap: the CURRENT pointer, or the Milvus alias and last commit)."""
    if settings.checked().backend == "milvus":
        from kb.backends.milvus import current_version as milvus_version

        return milvus_version(settings.milvus_uri, settings.milvus_collection)
    from kb.storage.store import current_version as local_version

    return local_version(settings.index_dir).name


def where(settings: Settings) -> str:
    """Where the index lives, for messages."""
    if settings.backend == "milvus":
        return f"Milvus collection '{settings.milvus_collection}' at {settings.milvus_uri}"
    return f"index folder {settings.index_dir}"
