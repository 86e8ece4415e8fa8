"""kb: a searchable knowledge base over a Korean weekly ML/DL news blog.

Public API::

    import kb
    index = kb.open_index("index")          # loads the manifest, tables and vectors; the model loads on first query
    hits = index.search("트레이딩", mode="hybrid", k=10, since="2020-06-01")

Heavy libraries (faiss, the embedding model) are imported lazily so `import kb` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "open_index"]


def open_index(path=None, *, embedder=None, model: str | None = None, settings=None):
    """Open a built index folder `path` — or, without one, the backend `settings` (a kb.core.config.Settings; default:
    the environment) name: the local index folder or a Milvus collection — and return a `kb.query.index.Index`.
    Given `model`, refuse (IndexMismatch) an index built with another one."""
    from kb.query.index import open_index as _open

    return _open(path, embedder=embedder, model=model, settings=settings)
