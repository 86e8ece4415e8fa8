"""The query's embedding, three ways: the query alone, spelled out with glossary synonyms, or averaged with them.

A one- or two-word query ("NLP", "강화학습") says little to the embedding model; the glossary (kb.text.glossary) knows its
synonyms. `spelled` embeds "NLP (natural language processing, 자연어 처리, …)" — one embedding, but of a text
three to four times as long, and the encoder's cost grows with its tokens. `mean` (the default) embeds the query as
it is and adds the mean vector of its glossary groups: same quality in kb.eval, the cost of the short query alone.
`plain` ignores the glossary. Measured in BENCHMARKS.md ("Query cost"): `python -m kb.eval --query-vector MODE`.

A group's vector is the query embedding of its terms, comma-separated. For the bundled model they ship with kb
(`kb/embed/glossary_vectors.npz`, keyed by a hash of the model name and the group's text, so an edited group is simply
embedded again); for any other model, or an edited group, each is embedded once per embedder and kept.
`python -m kb.embed.queryvec` rewrites the file after the glossary changes.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import weakref
from pathlib import Path

import numpy as np

from kb.core.config import DEFAULT_MODEL
from kb.text.glossary import GROUPS, SHORT_QUERY_WORDS, matched_groups, spell_out

MODES = ("mean", "spelled", "plain")
DEFAULT = "mean"
GROUP_WEIGHT = 1.0          # the groups' mean vector against the query's own (kb.eval: 0.5 → 0.9071, 1 → 0.9109)
SHIPPED = Path(__file__).with_name("glossary_vectors.npz")

_GROUP_VECTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()    # embedder → {group text: vector}
_SHIPPED: dict[str, np.ndarray] | None = None
_LOCK = threading.Lock()


def group_text(group: int) -> str:
    """The text embedded for a glossary group: its terms, comma-separated."""
    return ", ".join(GROUPS[group])


def group_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()[:32]


def _shipped() -> dict[str, np.ndarray]:
    global _SHIPPED
    if _SHIPPED is None:
        try:
            with np.load(SHIPPED) as z:
                _SHIPPED = dict(zip(z["keys"].tolist(), z["vectors"].astype(np.float32), strict=True))
        except (OSError, KeyError, ValueError):
            _SHIPPED = {}
    return _SHIPPED


def group_vector(embedder, group: int) -> np.ndarray:
    """A glossary group's vector: shipped with kb for the bundled model, else embedded once per embedder."""
    text = group_text(group)
    name = getattr(embedder, "name", None)
    if name == DEFAULT_MODEL:
        v = _shipped().get(group_key(name, text))
        if v is not None:
            return v
    with _LOCK:
        known = _GROUP_VECTORS.setdefault(embedder, {})
        v = known.get(text)
    if v is None:
        v = np.asarray(embedder.embed_query(text), dtype=np.float32)
        with _LOCK:
            known[text] = v
    return v


def query_vector(embedder, query: str, mode: str = DEFAULT, group_weight: float = GROUP_WEIGHT) -> np.ndarray:
    """The query's unit vector under `mode` (see the module docstring)."""
    if mode == "plain":
        return embedder.embed_query(query)
    if mode == "spelled":
        return embedder.embed_query(spell_out(query))
    if mode != "mean":
        raise ValueError(f"unknown query vector mode '{mode}'; use one of: {', '.join(MODES)}")
    v = embedder.embed_query(query)
    groups = matched_groups(query) if len(query.split()) <= SHORT_QUERY_WORDS else []
    if not groups:
        return v
    g = np.mean([group_vector(embedder, i) for i in groups], axis=0)
    out = v + group_weight * g
    return (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)


def write_group_vectors(path: Path = SHIPPED, embedder=None) -> int:
    """Embed every glossary group with the bundled model and save them where group_vector finds them."""
    from kb.embed.embedder import get_embedder

    embedder = embedder or get_embedder(DEFAULT_MODEL)
    texts = [group_text(i) for i in range(len(GROUPS))]
    keys = np.array([group_key(DEFAULT_MODEL, t) for t in texts])
    vectors = np.vstack([embedder.embed_query(t) for t in texts]).astype(np.float32)
    with open(path, "wb") as f:
        np.savez_compressed(f, keys=keys, vectors=vectors)
    return len(texts)


if __name__ == "__main__":
    n = write_group_vectors()
    print(f"wrote {n} glossary group vectors to {SHIPPED}", file=sys.stderr)
