"""The query's embedding, three ways: the query alone, spelled out with glossary synonyms, or averaged with them.

A one- or two-word query ("NLP", "강화학습") says little to the embedding model; the glossary (kb.glossary) knows its
synonyms. `spelled` embeds "NLP (natural language processing, 자연어 처리, …)" — one embedding, but of a text
three to four times as long, and the encoder's cost grows with the tokens. `mean` embeds the query as it is and
adds the vectors of its glossary groups, each group's terms embedded once and then served from the embedder's query
cache, so a short query costs one short embedding. `plain` ignores the glossary. Measured in BENCHMARKS.md
("Query cost"): `python -m kb.eval --query-vector MODE`.
"""

from __future__ import annotations

import numpy as np

from kb.glossary import GROUPS, SHORT_QUERY_WORDS, matched_groups, spell_out

MODES = ("mean", "spelled", "plain")
DEFAULT = "mean"
GROUP_WEIGHT = 1.0          # weight of the glossary groups' mean vector against the query's own


def group_text(group: int) -> str:
    """The text embedded for a glossary group: its terms, comma-separated."""
    return ", ".join(GROUPS[group])


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
    g = np.mean([embedder.embed_query(group_text(i)) for i in groups], axis=0)
    out = v + group_weight * g
    return (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)
