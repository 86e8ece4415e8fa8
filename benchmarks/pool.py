"""`python -m benchmarks.pool --index DIR`: how the candidate pool per leg (kb.query.index MIN_POOL,
POOL_PER_RESULT) changes each mode's top 10, against a pool of 2,000, on the bench's 40 queries.

Keyword and meaning have exact top-k semantics, so a pool that already holds their top 10 changes nothing; hybrid
min-max-scales the meaning leg over the pool (kb.query.fusion), so there the pool is part of the ranking itself."""

from __future__ import annotations

import argparse
import json

import kb
from benchmarks.harness import QUERIES
from kb.query import index as qi

BIG_POOL = 2000


def top10(index, mode: str, pool_of) -> list[list[int]]:
    original = qi.Index.candidates

    def candidates(self, q, m, f, pool, expand):
        return original(self, q, m, f, pool_of(pool), expand)

    qi.Index.candidates = candidates
    try:
        return [[h.row for h in index.search(q, mode=mode, k=10)] for q in QUERIES]
    finally:
        qi.Index.candidates = original


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pool", description=__doc__)
    p.add_argument("--index", required=True, metavar="DIR", help="a built index (e.g. the bench's W/index)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    index = kb.open_index(args.index)
    out = {}
    for mode in ("keyword", "semantic", "hybrid"):
        big = top10(index, mode, lambda p: BIG_POOL)
        for name, pool_of in (("30", lambda p: 30), ("50", lambda p: 50), ("shipped", lambda p: p)):
            got = top10(index, mode, pool_of)
            out[f"{mode}/{name}"] = {"identical_top10": sum(a == b for a, b in zip(got, big, strict=True)),
                                     "overlap": round(sum(len(set(a) & set(b)) for a, b in zip(got, big, strict=True))
                                                      / (10 * len(big)), 3), "queries": len(big)}
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
