"""`python -m benchmarks.snippets --index DIR --reference DIR`: how many snippets the 8-bit sentence codes change.

Both folders are indexes of the same content with the same embedder: `--index` stores snippet-sentence vectors as
8-bit codes (kb.storage.codes), `--reference` as float16 (an index written before the codes, e.g. by an earlier
checkout). For the bench's 40 queries in every mode, each hit's snippet from `--index` is compared with the snippet
chosen from the reference's float16 vectors of the same section (matched by post and position, same text). Also
counted: over every section with two or more sentences, how often the sentence closest to each query differs (the
choice a snippet by meaning makes)."""

from __future__ import annotations

import argparse
import json

import numpy as np

import kb
from benchmarks.harness import QUERIES
from kb.query.snippets import snippet
from kb.text.tokenize import tokenize

MODES = ("keyword", "semantic", "hybrid")


def hit_agreement(index, reference) -> dict:
    """Snippets of the hits of every bench query and mode: the same with the reference's float16 vectors?"""
    ref_rows = {s.key: r for r, s in enumerate(reference.sections)}
    same = total = by_meaning = 0
    for mode in MODES:
        for q in QUERIES:
            tokens = set(tokenize(q))
            qv = index.query_vector(q) if mode != "keyword" else None
            for h in index.search(q, mode=mode, k=10):
                s = index.sections[h.row]
                r = ref_rows.get(s.key)
                if r is None or reference.sections[r].text != s.text:
                    continue
                found = reference.backend.sentence_vectors(r)
                exact = None if qv is None or found is None or not len(found) else np.asarray(found, np.float32) @ qv
                want = snippet(s, tokens, closeness=exact)
                total += 1
                same += h.snippet == want
                by_meaning += exact is not None and want != snippet(s, tokens)
    return {"hits": total, "same_snippet": same, "share_same": round(same / max(total, 1), 5),
            "hits_whose_snippet_is_chosen_by_meaning": by_meaning}


def closest_agreement(index, reference) -> dict:
    """Over every section with 2+ sentences (same text in both) and every bench query: is the sentence closest in
    meaning the same from the codes as from float16?"""
    qv = np.array([index.query_vector(q) for q in QUERIES], dtype=np.float32)
    ref_rows = {s.key: r for r, s in enumerate(reference.sections)}
    same = total = 0
    for row, s in enumerate(index.sections):
        r = ref_rows.get(s.key)
        a = index.backend.sentence_vectors(row)
        if r is None or a is None or len(a) < 2:
            continue
        b = reference.backend.sentence_vectors(r)
        if b is None or len(b) != len(a):
            continue
        got = np.argmax(np.asarray(a, np.float32) @ qv.T, axis=0)
        want = np.argmax(np.asarray(b, np.float32) @ qv.T, axis=0)
        same += int(np.count_nonzero(got == want))
        total += len(QUERIES)
    return {"section_queries": total, "same_closest_sentence": same, "share_same": round(same / max(total, 1), 5)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.snippets", description=__doc__)
    p.add_argument("--index", required=True, metavar="DIR", help="an index with 8-bit sentence codes")
    p.add_argument("--reference", required=True, metavar="DIR", help="the same content indexed with float16 sentences")
    p.add_argument("--no-sections", action="store_true", help="skip the every-section count (slow at 100k)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    index, reference = kb.open_index(args.index), kb.open_index(args.reference)
    out = {"hits": hit_agreement(index, reference)}
    if not args.no_sections:
        out["sections"] = closest_agreement(index, reference)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
